"""Consolidation decides, before anything is written, what a candidate fact does to the
facts already known: repeat one (merge its sources), replace one about the same attribute
with a new value (supersede), add something new (insert), or nothing when it is older than
what is known about its attribute (skip). `decide` is pure."""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from memory.core.domain import FactKind, normalized_hash
from memory.core.records import Fact
from reflection.extraction import Candidate

NEAR_DUPLICATE_COSINE = 0.9
# A statement without an attribute (typed by its cues, not by a pattern) revises the known
# fact of its kind it is closest to when it says it is a change ("moved up, it's now the
# 19th", "we live in Kinsale now, not Cork") and is about the same thing.
REVISED_COSINE = 0.6
_REVISABLE = frozenset({FactKind.PLAN, FactKind.PROFILE, FactKind.PREFERENCE})
_CHANGE = re.compile(
    r"\b(?:now|anymore|any more|no longer|instead|actually|correction|update|changed?"
    r"|moved|pushed|postponed|brought forward|rescheduled|switched|after all|not any)\b",
    re.IGNORECASE,
)


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
    if same_attribute:
        return _about_the_same(candidate, same_attribute[0], digest)
    revised = _revised(candidate, nearest)
    if revised is not None:
        return revised
    for fact, cosine in nearest:
        if fact.kind is candidate.kind and cosine >= near_cosine:
            return Decision("merge", fact.id, f"near duplicate (cosine {cosine:.2f})")
    return Decision("insert", None, "new")


def _about_the_same(candidate: Candidate, fact: Fact, digest: str) -> Decision:
    """What a candidate does to the current fact about its attribute."""
    if normalized_hash(fact.text) == digest:
        return Decision("merge", fact.id, "same statement")
    if fact.valid_from <= candidate.valid_from:
        return Decision("supersede", fact.id, f"new value for {candidate.attribute}")
    return Decision("skip", fact.id, f"older than the known {candidate.attribute}")


def _revised(candidate: Candidate, nearest: Sequence[tuple[Fact, float]]) -> Decision | None:
    """A statement that says it changes the earlier fact of its kind it is closest to."""
    if candidate.attribute is not None or candidate.kind not in _REVISABLE:
        return None
    if not _CHANGE.search(candidate.text):
        return None
    for fact, cosine in nearest:
        if (
            fact.kind is candidate.kind
            and cosine >= REVISED_COSINE
            and fact.valid_from < candidate.valid_from
        ):
            return Decision("supersede", fact.id, f"revised (cosine {cosine:.2f})")
    return None
