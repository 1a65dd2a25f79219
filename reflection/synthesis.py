"""Synthesis writes the knowledge tier: insights that group related facts across sessions
and cite them. Offline, facts of one kind that are close in meaning form a cluster and a
templated statement; with an LLM, the synthesis prompt writes the insights. `reconcile`
then keeps, revises or retires what is already there, so insights whose facts were
superseded or deleted do not outlive them."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from memory.core.domain import FactKind
from memory.core.records import Fact, Knowledge
from memory.infra.llm import LLM, Usage
from reflection.prompts import synthesis as prompt

CLUSTER_COSINE = 0.45
MIN_CLUSTER = 2
MAX_ITEMS_PER_INSIGHT = 6
NAMED_IN_TEXT = 1

_HEADINGS = {
    FactKind.PREFERENCE: "Tastes that go together",
    FactKind.PROFILE: "Who they are",
    FactKind.RELATION: "People and animals in their life",
    FactKind.EVENT: "Things that happened to them",
    FactKind.DECISION: "Decisions along one line",
    FactKind.PLAN: "Plans and commitments around one goal",
    FactKind.OPEN_QUESTION: "Questions still open on one subject",
}


@dataclass(frozen=True)
class Draft:
    text: str
    fact_ids: frozenset[uuid.UUID]
    importance: float


def clusters(facts: Sequence[Fact], vectors: np.ndarray, cosine: float) -> list[list[int]]:
    """Greedy single-pass clustering within each kind: a fact joins the first cluster of
    its kind whose centroid it is close enough to. Indexes into `facts`, oldest first."""
    order = sorted(range(len(facts)), key=lambda i: (facts[i].valid_from, facts[i].id))
    groups: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for i in order:
        best, best_score = None, cosine
        for g, members in enumerate(groups):
            if facts[members[0]].kind is not facts[i].kind:
                continue
            score = float(vectors[i] @ centroids[g]) / float(np.linalg.norm(centroids[g]))
            if score >= best_score:
                best, best_score = g, score
        if best is None:
            groups.append([i])
            centroids.append(vectors[i].copy())
        else:
            groups[best].append(i)
            centroids[best] = centroids[best] + vectors[i]
    return groups


def offline_inputs(facts: Sequence[Fact]) -> list[Fact]:
    """The facts offline synthesis builds on: those the patterns read, not statements that
    restate their message (typed only by their cues): those are one recall away already, and
    a cluster of them would mostly say them again."""
    return [f for f in facts if not f.restates]


def offline_drafts(facts: Sequence[Fact], vectors: np.ndarray) -> list[Draft]:
    """Templated insights for every cluster of at least two related facts (of those
    `offline_inputs` keeps)."""
    drafts = []
    for group in clusters(facts, vectors, CLUSTER_COSINE):
        if len(group) < MIN_CLUSTER:
            continue
        members = [facts[i] for i in group][-MAX_ITEMS_PER_INSIGHT:]
        first, last = members[0].valid_from, members[-1].valid_from
        span = (
            f" ({first:%Y-%m-%d} to {last:%Y-%m-%d})"
            if first.date() != last.date()
            else f" ({first:%Y-%m-%d})"
        )
        # The insight cites every member; its text names the two most important and counts
        # the rest (the facts themselves are one citation away, not copied again).
        named = sorted(members, key=lambda m: -m.importance)[:NAMED_IN_TEXT]
        rest = len(members) - len(named)
        more = f"; and {rest} more" if rest else ""
        text = f"{_HEADINGS[members[0].kind]}{span}: " + "; ".join(m.text for m in named) + more
        drafts.append(
            Draft(text, frozenset(m.id for m in members), max(m.importance for m in members))
        )
    return drafts


async def llm_drafts(llm: LLM, facts: Sequence[Fact], usage: Usage) -> list[Draft]:
    """The synthesis prompt's insights, keeping only citations of facts it was shown."""
    answer = await llm.json(prompt.SYSTEM, prompt.render(facts), prompt.Response, usage)
    known = {str(f.id): f.id for f in facts}
    drafts = []
    for insight in answer.insights:
        cited = frozenset(known[i] for i in insight.fact_ids if i in known)
        if cited:
            drafts.append(Draft(insight.text, cited, insight.importance))
    return drafts


@dataclass(frozen=True)
class Plan:
    """What to do with the knowledge tier: add these, revise those, retire the rest."""

    add: list[Draft]
    revise: list[tuple[uuid.UUID, Draft]]
    retire: list[uuid.UUID]


def reconcile(existing: Sequence[Knowledge], drafts: Sequence[Draft]) -> Plan:
    """Match each draft to the active insight citing the most similar set of facts
    (Jaccard >= 0.5): identical ones stay, changed ones are revised; unmatched drafts are
    added and unmatched insights retired."""
    remaining = {k.id: k for k in existing}
    plan = Plan([], [], [])
    for draft in drafts:
        match = _best_match(draft, remaining.values())
        if match is None:
            plan.add.append(draft)
            continue
        del remaining[match.id]
        if frozenset(match.fact_ids) != draft.fact_ids or match.text != draft.text:
            plan.revise.append((match.id, draft))
    plan.retire.extend(remaining)
    return plan


def _best_match(draft: Draft, candidates: Iterable[Knowledge]) -> Knowledge | None:
    best, best_score = None, 0.5
    for knowledge in candidates:
        cited = frozenset(knowledge.fact_ids)
        score = len(cited & draft.fact_ids) / len(cited | draft.fact_ids)
        if score >= best_score:
            best, best_score = knowledge, score
    return best
