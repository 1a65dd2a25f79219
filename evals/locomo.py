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
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import Stemmer
from rich.console import Console
from rich.progress import Progress

from evals.locomo_data import Conversation, load
from evals.locomo_report import (
    ExtractorName,
    Result,
    Retention,
    ablation_table,
    notes,
    sizes_table,
    summary_line,
    summary_table,
    to_json,
)
from evals.locomo_scores import ABLATION, KS, Baselines, Ranking, Tally
from evals.locomo_sizes import TENANT, Sizes, jobs, measure
from evals.oracle import MODEL as ORACLE_MODEL
from evals.oracle import Oracle, load_observations, serve
from evals.report import machine_stamp, reports_dir
from memory.core.domain import Role, Scope
from memory.core.errors import ConfigurationError
from memory.core.records import RecallHit
from memory.core.settings import LifecycleSettings, Settings
from memory.stores.recall import Recall
from service.container import Container, build_container
from service.scratch import SimClock, fresh_database

TURN_GAP = timedelta(seconds=30)  # LoCoMo gives one time per session; turns are spaced by this


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


def ranking_of(hits: Sequence[RecallHit], stored: Replay) -> Ranking:
    """What each hit covers: the turns it cites (a message itself; a fact or knowledge item
    its source messages). A summary cites a session, not turns, so it covers none."""
    return [
        frozenset(stored.turn_of[m] for m in hit.provenance.message_ids if m in stored.turn_of)
        for hit in hits
    ]


# --- the run -------------------------------------------------------------------------------

RETENTION_S: dict[Retention, int] = {
    # The product's default, whatever the environment says.
    "default": LifecycleSettings.model_fields["retention_s"].default,
    "keep": 10 * 365 * 24 * 3600,  # an assistant that keeps its raw transcripts for good
}


def llm_configured(settings: Settings) -> bool:
    return settings.llm.base_url is not None and settings.llm.model is not None


def eval_settings(
    url: str, retention: Retention, extractor: ExtractorName, oracle_url: str | None = None
) -> Settings:
    """The environment's settings, with the retention window and the extractor chosen
    here; embeddings are always the local MiniLM, as the dense baseline's, and recall scans
    every vector exactly, so that two runs of the same code give the same figures."""
    base = Settings().model_dump()
    base["lifecycle"]["retention_s"] = RETENTION_S[retention]
    base["recall"]["exact_scan"] = True
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
        done = await jobs(app)
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
        jobs=done,
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
