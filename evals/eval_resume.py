"""Resumption quality: replays the scripted users of `evals/data/resume_users.json` through
the real tiers, worker and resumer with simulated time, then, at each return, checks the
mode, the share of must-include items present in the rendered context, and its tokens.

    python -m evals.eval_resume [--budget 1500]"""

import argparse
import asyncio
import json
import statistics
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from memory.core.domain import Scope
from memory.core.settings import Settings
from service.container import Container, build_container
from service.scratch import SimClock, fresh_database

# Plain output: no markup, no highlighting; the numbers are the point.
console = Console(markup=False, highlight=False, soft_wrap=True)

DATA = Path(__file__).parent / "data" / "resume_users.json"
START = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)


def gap_of(entry: dict[str, Any]) -> timedelta:
    return timedelta(minutes=entry.get("gap_minutes", 0), days=entry.get("gap_days", 0))


async def replay(app: Container, clock: SimClock, user: dict[str, Any]) -> Scope:
    scope = Scope("eval", user["id"])
    for index, session in enumerate(user["sessions"]):
        if index:
            clock.now += timedelta(days=1)
            await app.worker.tick()
        sid = uuid.uuid4()
        for role, content in session:
            await app.sessions.append(scope, sid, role, content, device_id="phone")
            clock.now += timedelta(minutes=1)
    return scope


async def evaluate(
    app: Container,
    clock: SimClock,
    user: dict[str, Any],
    budget: int,
    tally: Counter[str],
    tokens: list[int],
) -> None:
    scope = await replay(app, clock, user)
    ended = clock.now
    for entry in sorted(user["returns"], key=gap_of):
        clock.now = ended + gap_of(entry)
        await app.worker.tick()
        context = await app.resumer.resume(
            scope, entry["message"], device_id="phone", budget_tokens=budget
        )
        text = "\n".join(m["content"] for m in context.messages).lower()
        tally["returns"] += 1
        tally["mode_ok"] += context.mode.value == entry["mode"]
        tally[f"expected:{entry['mode']}"] += 1
        tally[f"ok:{entry['mode']}"] += context.mode.value == entry["mode"]
        tally["must"] += len(entry["must"])
        tally["present"] += sum(k.lower() in text for k in entry["must"])
        tokens.append(context.tokens)
        missing = [k for k in entry["must"] if k.lower() not in text]
        console.print(
            f"  {user['id']:17s} +{gap_of(entry)!s:>18s} {context.mode.value:12s} "
            f"(expected {entry['mode']:12s}) {context.tokens:5d} tokens"
            + (f"  missing: {', '.join(missing)}" if missing else "")
        )


async def main(args: argparse.Namespace) -> None:
    users = json.loads(DATA.read_text())["users"]
    clock = SimClock(START)
    tally: Counter[str] = Counter()
    tokens: list[int] = []
    async with fresh_database("memstrata_eval_resume", None, args.data_dir) as url:
        settings = Settings.model_validate(Settings().model_dump() | {"database_url": url})
        app = await build_container(settings, clock=clock)
        try:
            console.print(f"resumption eval, budget {args.budget} tokens")
            for user in users:
                clock.now = START
                await evaluate(app, clock, user, args.budget, tally, tokens)
        finally:
            await app.close()
    console.print(
        f"\nmode accuracy {tally['mode_ok']}/{tally['returns']} "
        + " ".join(
            f"{m} {tally['ok:' + m]}/{tally['expected:' + m]}"
            for m in ("full_restore", "primed", "fresh")
        )
    )
    console.print(
        f"must-include items present {tally['present']}/{tally['must']} "
        f"({tally['present'] / max(tally['must'], 1):.0%})"
    )
    console.print(f"tokens per context: median {statistics.median(tokens):.0f}, max {max(tokens)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=int, default=1500)
    parser.add_argument("--data-dir", default=tempfile.gettempdir() + "/memstrata-bench")
    asyncio.run(main(parser.parse_args()))
