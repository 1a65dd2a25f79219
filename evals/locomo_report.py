"""LoCoMo: a run's result, and how it is shown (tables, the summary line, the notes) and
kept (JSON)."""

from dataclasses import asdict, dataclass
from typing import Any, Literal

from rich.table import Table

from evals.locomo_scores import ABLATION, CATEGORIES, KS, MEMSTRATA, Scores, Tally
from evals.locomo_sizes import DERIVED, TIERS, Sizes
from evals.oracle import LABEL as ORACLE_LABEL
from evals.oracle import Stats
from memory.core.settings import Settings
from reflection.extraction import RULES_VERSION
from reflection.prompts import extraction as extraction_prompt

Retention = Literal["default", "keep"]
ExtractorName = Literal["rules", "llm", "oracle"]


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
