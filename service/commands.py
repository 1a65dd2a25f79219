"""The data commands of the CLI — tenant keys, ingest, recall, resume, journal, export,
forget, single memories — run in-process on the configured database through `LocalClient`."""

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from memory.core.errors import InvalidInput, MemstrataError, NotFound
from memory.core.settings import Settings
from service import logs
from service.container import Container, build_container
from service.local_client import LocalClient

T = TypeVar("T")
console = Console(stderr=True)  # messages; a command's answer goes to standard output


def run(work: Callable[[Container], Awaitable[T]], tenant: str | None = None) -> T:
    """Run `work` on a container built from the environment, for `tenant` if it names one
    (which must exist: a typo in `-t` is an error, not a new tenant); domain errors exit 1.
    Only warnings are logged: the output is the command's answer."""
    logs.configure(level=logging.WARNING, json_lines=Settings().log_format == "json")

    async def checked(c: Container) -> T:
        if tenant is not None and not await c.tenants.exists(tenant):
            raise NotFound(
                f"tenant {tenant!r} does not exist; create it with: memstrata tenant create "
                f"{tenant}"
            )
        return await work(c)

    try:
        return asyncio.run(with_container(Settings(), checked))
    except MemstrataError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


async def with_container(settings: Settings, work: Callable[[Container], Awaitable[T]]) -> T:
    container = await build_container(settings)
    try:
        return await work(container)
    finally:
        await container.close()


def _line(raw: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"line {number}", f"not JSON: {exc.msg}") from exc
    if not isinstance(record, dict) or "role" not in record or "content" not in record:
        raise InvalidInput(f"line {number}", "needs at least role and content")
    return record


async def ingest(
    container: Container, tenant: str, user: str, name: str, data: bytes, console: Console
) -> tuple[int, int]:
    """Append every message of a JSONL file: `role`, `content`, and optionally `at`
    (ISO 8601 with a zone), `session_id`, `idempotency_key`, `metadata` (an object) and
    `thread` (the session's, when the line opens it). Idempotent per line:
    running it again on the same file, or on the file after lines were added at its end,
    appends only what is new, into the same session (both are keyed by the file's first
    line, each line by its number and its own text). Returns (new, replayed)."""
    client = LocalClient(container, tenant)
    lines = data.decode("utf-8").splitlines()
    file_id = _digest(lines[0] if lines else "")
    default_session = str(uuid.uuid5(uuid.NAMESPACE_URL, f"memstrata-ingest:{file_id}"))
    new = replayed = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"ingesting {name}", total=len(lines))
        for number, raw in enumerate(lines, start=1):
            if raw.strip():
                record = _line(raw, number)
                at = record.get("at")
                appended = await client.append(
                    user,
                    str(record.get("session_id", default_session)),
                    record["role"],
                    record["content"],
                    idempotency_key=record.get(
                        "idempotency_key", f"ingest:{file_id}:{number}:{_digest(raw)}"
                    ),
                    at=datetime.fromisoformat(at) if at else None,
                    metadata=record.get("metadata"),
                    thread=record.get("thread"),
                )
                replayed += appended.replayed
                new += not appended.replayed
            progress.advance(task)
    return new, replayed


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
