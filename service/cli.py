"""The `memstrata` command: run the service, manage the schema. Async work runs under
`asyncio.run` here, at the edge."""

import asyncio
import logging
import signal
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from memory.database import open_database
from memory.errors import MemstrataError
from memory.migrate import upgrade
from memory.settings import Settings
from reflection.scheduler import build_scheduler
from service.api import create_app
from service.container import build_container
from service.demo import run_demo

app = typer.Typer(help="memstrata: memory tiers and a journal for LLM assistants.")
db = typer.Typer(help="The database schema.")
app.add_typer(db, name="db")
console = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8421)")] = None,
) -> None:
    """Run the REST API; with no MEMSTRATA_DATABASE_URL, on the embedded Postgres."""
    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_app(settings),
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_level="info",
    )


async def _work(settings: Settings, once: bool) -> None:
    container = await build_container(settings)
    try:
        if once:
            console.print(dict(await container.worker.tick()))
            return
        scheduler = build_scheduler(container.worker, settings.reflection, settings.lifecycle)
        scheduler.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        scheduler.shutdown(wait=False)
    finally:
        await container.close()


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run every job once and exit")] = False,
) -> None:
    """Run the reflection worker: extraction, session ends, knowledge, embeddings, retention.
    Any number of workers may run against one database."""
    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(_work(settings, once))
    except MemstrataError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@app.command()
def demo() -> None:
    """Replay a sample user over three simulated weeks and show how each return resumes
    (on a scratch database next to the embedded default; offline)."""
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(run_demo(Settings(), Console()))
    except MemstrataError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


async def _upgrade(settings: Settings) -> None:
    database = await open_database(settings)
    try:
        await upgrade(database.engine, settings.embedding.dim)
    finally:
        await database.close()


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the schema to the newest revision (the service also does this at start)."""
    try:
        asyncio.run(_upgrade(Settings()))
    except MemstrataError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print("schema is up to date")
