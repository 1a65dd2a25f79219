"""The kind of a user's statement by its nearest examples: a few hundred sentences people
type to an assistant, each labelled with the kind of memory it carries (profile,
preference, relation, event, decision, plan) or none (small talk, reactions, requests), are
embedded once with the service's own embedder; a statement no pattern and no cue typed takes
the kind most of its nearest examples share, when they are near enough and agree.

The examples (`data/kind_examples.json`) were written for this purpose on 2026-12-01 by
writers who saw neither the extraction rules nor any of the evaluation dialogues, so the
extraction eval measures them as it measures the rules. Nothing here reads the network
beyond what the configured embedder does."""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memory.core.domain import FactKind
from memory.infra.embedder import Embedder

EXAMPLES = Path(__file__).parent / "data" / "kind_examples.json"
NEIGHBOURS = 7  # examples consulted per statement
# The nearest example must be at least this similar, and the winning kind must hold this
# share of the neighbours' similarity: otherwise the statement stays an untyped observation.
MIN_SIMILARITY = 0.35
MIN_AGREEMENT = 0.6
_NONE = "none"


@dataclass(frozen=True)
class Examples:
    labels: tuple[str, ...]
    vectors: np.ndarray  # one unit row per example


def load_examples(path: Path = EXAMPLES) -> list[tuple[str, str]]:
    """(label, sentence) pairs; a label is a kind's value or "none"."""
    raw: dict[str, list[str]] = json.loads(path.read_text())
    known = {k.value for k in FactKind} | {_NONE}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path.name}: unknown labels {sorted(unknown)}")
    return [(label, sentence) for label, sentences in raw.items() for sentence in sentences]


class KindReader:
    """Types statements by their nearest labelled examples, in the embedder's own space
    (the examples are embedded on first use, once per reader)."""

    def __init__(self, embedder: Embedder, path: Path = EXAMPLES) -> None:
        self._embedder = embedder
        self._path = path
        self._examples: Examples | None = None
        self._loading = asyncio.Lock()

    async def _ready(self) -> Examples:
        async with self._loading:
            if self._examples is None:
                pairs = await asyncio.to_thread(load_examples, self._path)
                vectors = await self._embedder.embed([s for _, s in pairs])
                self._examples = Examples(
                    tuple(label for label, _ in pairs), np.asarray(vectors, dtype=np.float32)
                )
            return self._examples

    async def kinds(self, statements: Sequence[str]) -> list[FactKind | None]:
        """The kind of each statement, or None where the examples do not settle it."""
        if not statements:
            return []
        examples = await self._ready()
        vectors = np.asarray(await self._embedder.embed(list(statements)), dtype=np.float32)
        return await asyncio.to_thread(nearest_kinds, examples, vectors)


def nearest_kinds(examples: Examples, vectors: np.ndarray) -> list[FactKind | None]:
    similarities = vectors @ examples.vectors.T
    return [_vote(examples.labels, row) for row in similarities]


def _vote(labels: tuple[str, ...], similarity: np.ndarray) -> FactKind | None:
    nearest = np.argsort(-similarity)[:NEIGHBOURS]
    if similarity[nearest[0]] < MIN_SIMILARITY:
        return None
    weight: dict[str, float] = {}
    for index in nearest:
        weight[labels[index]] = weight.get(labels[index], 0.0) + max(float(similarity[index]), 0)
    label, won = max(weight.items(), key=lambda item: item[1])
    if label == _NONE or won < MIN_AGREEMENT * sum(weight.values()):
        return None
    return FactKind(label)
