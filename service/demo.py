"""`memstrata demo`: replays the shipped sample user over three simulated weeks on a
scratch database and shows, at each return, how memstrata resumes — full restore, primed
new session, fresh start — with the context block an assistant would put in its prompt."""

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from memory.core.domain import Scope
from memory.core.settings import Settings
from service.container import Container, build_container
from service.scratch import SimClock, fresh_database

SAMPLE = Path(__file__).parent / "demo_user.json"
USER = Scope("demo", "marta")


async def _show(app: Container, console: Console, label: str, message: str) -> None:
    context = await app.resumer.resume(USER, message, device_id="phone")
    console.rule(f"[bold]{label}[/bold]: {context.mode.value}")
    console.print(Text(context.reason, style="dim"))
    console.print(Text(f"user says: {message}", style="italic"))
    if context.greeting:
        console.print(Text(f"greeting: {context.greeting}", style="green"))
    body = "\n\n".join(f"({m['role']}) {m['content']}" for m in context.messages)
    console.print(Panel(Text(body), title=f"prompt context, {context.tokens} tokens"))


async def _session(app: Container, clock: SimClock, session: dict[str, Any]) -> None:
    sid = uuid.uuid4()
    for role, content in session["turns"]:
        await app.sessions.append(USER, sid, role, content, device_id="phone")
        clock.now += timedelta(minutes=2)


async def run_demo(settings: Settings, console: Console) -> None:
    sessions = json.loads(SAMPLE.read_text())["sessions"]
    clock = SimClock(datetime.fromisoformat(sessions[0]["start"]))
    name = "memstrata_demo"
    async with fresh_database(name, settings.database_url, str(settings.data_dir)) as url:
        app = await build_container(settings.model_copy(update={"database_url": url}), clock=clock)
        try:
            for index, session in enumerate(sessions):
                start = datetime.fromisoformat(session["start"])
                clock.now = start - timedelta(minutes=1)
                await app.worker.tick()  # everything idle since the last visit is reflected
                clock.now = start
                if index:
                    await _show(
                        app,
                        console,
                        f"{start:%a %d %b}, session {index + 1}",
                        session["turns"][0][1],
                    )
                await _session(app, clock, session)
            for label, gap in [
                ("5 minutes later", timedelta(minutes=5)),
                ("the same evening", timedelta(hours=3)),
                ("three weeks later", timedelta(days=21)),
            ]:
                clock.now += gap
                await app.worker.tick()
                await _show(app, console, label, "Hi again! Any tips for my long run?")
        finally:
            await app.close()
