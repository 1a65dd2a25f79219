"""Consolidation decides, before anything is written, what a candidate fact does to the
facts already known: repeat one (merge its sources), replace one about the same attribute
with a new value (supersede), add something new (insert), or nothing when it is older than
what is known about its attribute (skip). `decide` is pure."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from memory.core.records import Fact
from memory.stores.facts import normalized_hash
from reflection.extraction import Candidate

NEAR_DUPLICATE_COSINE = 0.9


@dataclass(frozen=True)
class Decision:
    action: Literal["insert", "merge", "supersede", "skip"]
    target: uuid.UUID | None
    reason: str


def decide(
    candidate: Candidate,
    same_attribute: Sequence[Fact],
    nearest: Sequence[tuple[Fact, float]],
    near_cosine: float = NEAR_DUPLICATE_COSINE,
) -> Decision:
    """What to do with `candidate`, given the current facts about its attribute and the
    current facts nearest to it in meaning (with their cosine similarity)."""
    digest = normalized_hash(candidate.text)
    for fact, _ in nearest:
        if normalized_hash(fact.text) == digest:
            return Decision("merge", fact.id, "same statement")
    for fact in same_attribute:
        if normalized_hash(fact.text) == digest:
            return Decision("merge", fact.id, "same statement")
        if fact.valid_from <= candidate.valid_from:
            return Decision("supersede", fact.id, f"new value for {candidate.attribute}")
        return Decision("skip", fact.id, f"older than the known {candidate.attribute}")
    for fact, cosine in nearest:
        if fact.kind is candidate.kind and cosine >= near_cosine:
            return Decision("merge", fact.id, f"near duplicate (cosine {cosine:.2f})")
    return Decision("insert", None, "new")
