"""Extraction quality: replays the labelled dialogues in `evals/data/` through the real
tiers and worker (a fresh database; simulated time), then scores the facts the user ends up
with: precision, recall and F1 by kind, dedup accuracy and supersession accuracy.

    python -m evals.eval_extraction            # rule-based, offline
    python -m evals.eval_extraction --llm      # the LLM configured in MEMSTRATA_LLM__*

A predicted fact matches an expected one when the kind is the same and every keyword of
the expectation appears in its text; matching is one-to-one, over the current facts."""

import argparse
import asyncio
import json
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from memory.domain import Scope
from memory.records import Fact
from memory.settings import Settings
from service.container import Container, build_container
from service.scratch import SimClock, fresh_database

# Plain output: no markup, no highlighting; the numbers are the point.
console = Console(markup=False, highlight=False, soft_wrap=True)

DATA = Path(__file__).parent / "data" / "extraction_dialogues.json"


@dataclass
class Score:
    expected: Counter[str]
    found: Counter[str]
    predicted: Counter[str]
    dedup: list[bool]
    supersession: list[bool]


def matches(fact: Fact, expectation: dict[str, Any]) -> bool:
    text = fact.text.lower()
    return fact.kind.value == expectation["kind"] and all(
        k.lower() in text for k in expectation["keywords"]
    )


def score_dialogue(facts: list[Fact], expected: list[dict[str, Any]], score: Score) -> None:
    current = [f for f in facts if f.valid_to is None]
    unmatched = list(current)
    for expectation in expected:
        score.expected[expectation["kind"]] += 1
        hit = next((f for f in unmatched if matches(f, expectation)), None)
        if hit is not None:
            unmatched.remove(hit)
            score.found[expectation["kind"]] += 1
        if expectation.get("dedup"):
            score.dedup.append(sum(matches(f, expectation) for f in current) == 1)
        if "supersedes" in expectation:
            old = {"kind": expectation["kind"], "keywords": expectation["supersedes"]}
            score.supersession.append(
                hit is not None
                and any(f.superseded_by == hit.id and matches(f, old) for f in facts)
            )
    for fact in current:
        score.predicted[fact.kind.value] += 1


async def replay(app: Container, clock: SimClock, dialogue: dict[str, Any]) -> list[Fact]:
    scope = Scope("eval", dialogue["id"])
    for session in dialogue["sessions"]:
        sid = uuid.uuid4()
        for role, content in session:
            await app.sessions.append(scope, sid, role, content)
            clock.now += timedelta(minutes=1)
        clock.now += timedelta(minutes=10)
        await app.worker.extract_due()
        clock.now += timedelta(days=3)
    return await app.facts.list_facts(scope, include_superseded=True, limit=1000)


def report(score: Score, label: str) -> None:
    console.print(f"\nextraction eval — {label}")
    console.print(f"{'kind':15s} {'expected':>8s} {'found':>6s} {'predicted':>9s} {'recall':>7s}")
    for kind in sorted(set(score.expected) | set(score.predicted)):
        expected, found = score.expected[kind], score.found[kind]
        share = f"{found / expected:.2f}" if expected else "-"
        console.print(f"{kind:15s} {expected:8d} {found:6d} {score.predicted[kind]:9d} {share:>7s}")
    total_found, total_expected = sum(score.found.values()), sum(score.expected.values())
    predicted = sum(score.predicted.values())
    precision = total_found / predicted if predicted else 0.0
    recall = total_found / total_expected if total_expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    console.print(
        f"\nprecision {precision:.2f}  recall {recall:.2f}  F1 {f1:.2f}  "
        f"({total_found} of {total_expected} expected, {predicted} predicted)"
    )
    console.print(
        f"dedup accuracy {sum(score.dedup)}/{len(score.dedup)}  "
        f"supersession accuracy {sum(score.supersession)}/{len(score.supersession)}"
    )


async def main(args: argparse.Namespace) -> None:
    dialogues = json.loads(DATA.read_text())["dialogues"]
    score = Score(Counter(), Counter(), Counter(), [], [])
    clock = SimClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    async with fresh_database("memstrata_eval_extraction", None, args.data_dir) as url:
        overrides: dict[str, Any] = {
            "database_url": url,
            "reflection": {"extraction": "llm" if args.llm else "rules"},
        }
        settings = Settings.model_validate(Settings().model_dump() | overrides)
        app = await build_container(settings, clock=clock)
        try:
            for dialogue in dialogues:
                facts = await replay(app, clock, dialogue)
                score_dialogue(facts, dialogue["expected"], score)
                if args.verbose:
                    console.print(
                        f"- {dialogue['id']}: "
                        + "; ".join(
                            f"[{f.kind.value}] {f.text}{' (superseded)' if f.valid_to else ''}"
                            for f in facts
                        )
                    )
            label = app.worker._extractor.prompt_version
        finally:
            await app.close()
    report(score, f"{len(dialogues)} dialogues, {label}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--data-dir", default=tempfile.gettempdir() + "/memstrata-bench")
    asyncio.run(main(parser.parse_args()))
