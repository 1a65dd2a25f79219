"""Replays the sample user (`service/demo_user.json`) through the real tiers with
simulated time — each session ends by hard expiry and the worker runs — then prints what
memstrata remembers: facts (with superseded ones), knowledge, session summaries, journal.

    python -m evals.show_memory"""

import argparse
import asyncio
import json
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from memory.core.domain import Scope
from memory.core.settings import Settings
from service.container import Container, build_container
from service.scratch import SimClock, fresh_database

# Plain output: no markup, no highlighting; the numbers are the point.
console = Console(markup=False, highlight=False, soft_wrap=True)

SAMPLE = Path(__file__).parent.parent / "service" / "demo_user.json"
USER = Scope("demo", "marta")


async def replay(app: Container, clock: SimClock, sessions: list[dict[str, Any]]) -> None:
    for session in sessions:
        clock.now = datetime.fromisoformat(session["start"])
        sid = uuid.uuid4()
        for role, content in session["turns"]:
            await app.sessions.append(USER, sid, role, content, device_id="phone")
            clock.now += timedelta(minutes=2)
        clock.now += timedelta(hours=3)  # past hard expiry: the session ends
        await app.worker.tick()


async def show(app: Container) -> None:
    console.print("## Facts")
    for fact in sorted(
        await app.facts.list_facts(USER, include_superseded=True), key=lambda f: f.valid_from
    ):
        until = f" — until {fact.valid_to:%Y-%m-%d}" if fact.valid_to else ""
        console.print(f"- [{fact.kind.value}] {fact.text}{until}")
    console.print("\n## Knowledge")
    for item in await app.knowledge.list_knowledge(USER):
        console.print(f"- {item.text} (cites {len(item.fact_ids)} facts)")
    console.print("\n## Session summaries")
    for summary in reversed(await app.summaries.latest(USER, limit=10)):
        console.print(f"- {summary.text}")
    entry = await app.journal.latest(USER)
    console.print(f"\n## Journal (version {entry.version if entry else 0})\n")
    console.print(entry.content if entry else "(none)")


async def main(args: argparse.Namespace) -> None:
    sessions = json.loads(SAMPLE.read_text())["sessions"]
    clock = SimClock(datetime.fromisoformat(sessions[0]["start"]))
    async with fresh_database("memstrata_show_memory", None, args.data_dir) as url:
        overrides = {"database_url": url, "reflection": {"reflect_min_new_facts": 3}}
        settings = Settings.model_validate(Settings().model_dump() | overrides)
        app = await build_container(settings, clock=clock)
        try:
            await replay(app, clock, sessions)
            await show(app)
        finally:
            await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=tempfile.gettempdir() + "/memstrata-bench")
    asyncio.run(main(parser.parse_args()))
