"""The `memstrata` command: run the service, manage the schema. Async work runs under
`asyncio.run` here, at the edge."""

import asyncio
import importlib.util
import json
import logging
import signal
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.table import Table
from rich.text import Text

from memory.core.domain import Scope, external_id
from memory.core.errors import MemstrataError
from memory.core.settings import Settings
from reflection.scheduler import build_scheduler
from service import commands, logs
from service.api import create_app
from service.cli_memory import memory
from service.commands import console
from service.commands import run as _run
from service.container import Container, build_container, migrated_database
from service.demo import run_demo
from service.local_client import LocalClient
from service.mcp_server import build_server

app = typer.Typer(
    help="memstrata: memory tiers, a journal and resumption for LLM assistants.",
    no_args_is_help=True,
)
db = typer.Typer(help="The database schema.", no_args_is_help=True)
tenant = typer.Typer(help="Tenants and their API keys.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(tenant, name="tenant")
app.add_typer(memory, name="memory")
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id")]
UserOpt = Annotated[str, typer.Option("--user", "-u", help="User id (tenant-local)")]
ThreadOpt = Annotated[
    str | None, typer.Option(help="One conversation thread of the user (default: all)")
]


@tenant.command("create")
def tenant_create(
    tenant_id: Annotated[str, typer.Argument(help="The new tenant's id")],
    name: Annotated[str, typer.Option(help="A name for the key")] = "default",
    add_key: Annotated[
        bool, typer.Option("--add-key", help="The tenant exists: mint another key for it")
    ] = False,
    expires: Annotated[
        datetime | None, typer.Option(help="When the key stops working (ISO 8601, with a zone)")
    ] = None,
) -> None:
    """Create a tenant and print its API key — shown only now. For a tenant that exists
    this is an error, unless --add-key asks for another key."""

    async def work(c: Container) -> str | None:
        if await c.tenants.exists(tenant_id) and not add_key:
            return None
        return (await c.api_keys.create(tenant_id, name, expires)).key

    key = _run(work)
    if key is None:
        console.print(
            f"[red]error:[/red] tenant {tenant_id!r} exists; pass --add-key to mint another "
            "key for it"
        )
        raise typer.Exit(1)
    Console().print(key)


@tenant.command("keys")
def tenant_keys(tenant_id: Annotated[str, typer.Argument(help="The tenant")]) -> None:
    """The tenant's keys: id, name, created, expires, revoked (never the keys themselves)."""
    found = _run(lambda c: c.api_keys.keys(tenant_id), tenant_id)
    table = Table("key id", "name", "created", "expires", "revoked")
    for k in found:
        table.add_row(str(k.id), k.name, _day(k.created_at), _day(k.expires_at), _day(k.revoked_at))
    Console().print(table)


@tenant.command("revoke")
def tenant_revoke(
    tenant_id: Annotated[str, typer.Argument(help="The tenant")],
    key_id: Annotated[uuid.UUID, typer.Argument(help="The key's id (see `tenant keys`)")],
) -> None:
    """Revoke a key: refused from the next request on."""
    _run(lambda c: c.api_keys.revoke(tenant_id, key_id), tenant_id)
    console.print(f"revoked {key_id}")


@tenant.command("key")
def tenant_key(
    tenant_id: Annotated[str, typer.Argument(help="The tenant")],
    key_id: Annotated[uuid.UUID, typer.Argument(help="The key's id (see `tenant keys`)")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    expires: Annotated[
        datetime | None, typer.Option(help="When it stops working (ISO 8601, with a zone)")
    ] = None,
    never_expires: Annotated[bool, typer.Option("--never-expires")] = False,
) -> None:
    """Rename a key, or set when it expires."""
    changed = _run(
        lambda c: c.api_keys.change(
            tenant_id, key_id, name=name, expires_at=expires, clear_expiry=never_expires
        ),
        tenant_id,
    )
    console.print(f"{changed.id} {changed.name}, expires {_day(changed.expires_at) or 'never'}")


def _day(when: datetime | None) -> str:
    return "" if when is None else when.isoformat(timespec="minutes")


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
) -> None:
    """Append the messages of a JSONL file (role, content, at, session_id,
    idempotency_key); safe to run again after an interruption."""
    data = file.read_bytes()
    new, replayed = _run(
        lambda c: commands.ingest(c, tenant_id, user_id, file.name, data, console), tenant_id
    )
    console.print(f"{new} messages appended, {replayed} already there")


@app.command()
def recall(
    query: Annotated[str, typer.Argument()],
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="How many hits")] = 10,
    thread: ThreadOpt = None,
    metadata: Annotated[
        str | None,
        typer.Option(help='Only from messages whose metadata contains this JSON, e.g. {"app":"x"}'),
    ] = None,
) -> None:
    """Hybrid recall over every tier."""
    hits = _run(
        lambda c: LocalClient(c, tenant_id).recall(
            user_id, query, k, thread=thread, metadata=metadata
        ),
        tenant_id,
    )
    table = Table("tier", "score", "when", "text")
    for hit in hits:
        table.add_row(hit.tier, f"{hit.score:.4f}", f"{hit.at:%Y-%m-%d}", hit.text)
    Console().print(table)


@app.command()
def resume(
    message: Annotated[str | None, typer.Argument()] = None,
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
    budget: int | None = None,
    thread: ThreadOpt = None,
) -> None:
    """How the user's conversation would resume now, and the prompt messages."""
    context = _run(
        lambda c: LocalClient(c, tenant_id).resume(
            user_id, message, budget_tokens=budget, thread=thread
        ),
        tenant_id,
    )
    out = Console()
    out.print(f"[bold]{context.mode}[/bold] — {context.reason}")
    if context.greeting:
        out.print(Text(f"greeting: {context.greeting}", style="green"))
    for entry in context.messages:
        out.print(Text(f"({entry.role}) {entry.content}"))
    out.print(f"[dim]{context.tokens} tokens[/dim]")


@app.command()
def journal(tenant_id: TenantOpt = "default", user_id: UserOpt = "default") -> None:
    """The user's journal, latest version."""
    entry = _run(lambda c: LocalClient(c, tenant_id).journal(user_id), tenant_id)
    Console().print(Text(entry.content) if entry else "(no journal yet)")


@app.command()
def export(tenant_id: TenantOpt = "default", user_id: UserOpt = "default") -> None:
    """Every tier of the user as JSON lines on standard output; the last line,
    {"tier": "end", "rows": {...}}, counts the rows of each tier."""

    async def rows(c: Container) -> list[dict[str, Any]]:
        return [row async for row in LocalClient(c, tenant_id).export(user_id)]

    for row in _run(rows, tenant_id):
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


@app.command("import")
def import_user(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
) -> None:
    """Rebuild every tier of a user from what `export` wrote (JSON lines ending with the
    end line), all of it or nothing, into a user with no data here; ids and times are
    kept, embeddings are made again by the worker."""
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                console.print(f"[red]error:[/red] line {number} is not JSON: {exc.msg}")
                raise typer.Exit(1) from exc
    scope = Scope(tenant_id, external_id(user_id, "user_id"))
    counts = _run(lambda c: c.records.import_rows(scope, rows), tenant_id)
    console.print(
        "imported "
        + ", ".join(f"{n} {tier}" for tier, n in counts.items() if n)
        + f" into {tenant_id}/{user_id}"
    )


@app.command()
def keys(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Re-seal every row with the active key now")
    ] = False,
) -> None:
    """Encryption at rest: how many messages each key id seals (the worker re-seals in the
    background; --rotate does it all now). A key may go once no row names it."""

    async def work(c: Container) -> tuple[int, dict[str, int]]:
        done = await c.rotation.reseal_all() if rotate else 0
        return done, await c.rotation.key_counts()

    done, counts = _run(work)
    if rotate:
        console.print(f"re-sealed {done} rows")
    table = Table("key id", "messages")
    for key_id, count in sorted(counts.items()):
        table.add_row(key_id, str(count))
    console.print(table)


@app.command()
def forget(
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False,
) -> None:
    """Delete everything memstrata holds about the user, in every tier."""
    if not yes:
        typer.confirm(f"Forget everything about {tenant_id}/{user_id}?", abort=True)
    _run(lambda c: LocalClient(c, tenant_id).forget(user_id), tenant_id)
    console.print(f"forgot {tenant_id}/{user_id}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8421)")] = None,
) -> None:
    """Run the REST API; with no MEMSTRATA_DATABASE_URL, on the embedded Postgres."""
    settings = Settings()
    api = settings.api.model_copy(
        update={"host": host or settings.api.host, "port": port or settings.api.port}
    )
    settings = settings.model_copy(update={"api": api})
    logs.configure(json_lines=settings.log_format == "json")
    try:
        app_ = create_app(settings)  # refuses an unauthenticated non-loopback bind
    except MemstrataError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    uvicorn.run(
        app_,
        host=api.host,
        port=api.port,
        log_level="info",
        log_config=None,  # keep our JSON handler for uvicorn's loggers too
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
    logs.configure(json_lines=settings.log_format == "json")
    try:
        asyncio.run(_work(settings, once))
    except MemstrataError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


EVALS = {
    "extraction": "evals.eval_extraction",
    "resume": "evals.eval_resume",
    "recall-bench": "evals.bench_recall",
    "session-bench": "evals.bench_session",
    "api-bench": "evals.bench_api",
    "load": "evals.bench_load",
    "show-memory": "evals.show_memory",
    "locomo": "evals.locomo",
    "bench": "evals.bench",
}
# Evals that need the `evals` extra (bm25s, PyStemmer, matplotlib).
EXTRA_EVALS = {"locomo", "bench"}


# `memstrata eval NAME --help` is the eval's own help (its options); `-h` is this wrapper's.
@app.command(
    "eval",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": ["-h"],
    },
)
def run_eval(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(EVALS)}")],
) -> None:
    """Run an offline eval or benchmark of evals/ (extra options go to it; `memstrata eval
    NAME --help` shows them). Each prints its numbers; none needs a network."""
    if name not in EVALS:
        console.print(f"[red]error:[/red] unknown eval {name!r}; choose from {', '.join(EVALS)}")
        raise typer.Exit(2)
    if name in EXTRA_EVALS and importlib.util.find_spec("matplotlib") is None:
        console.print(
            f"[red]error:[/red] eval {name!r} needs the evals extra: pip install 'memstrata[evals]'"
        )
        raise typer.Exit(2)
    done = subprocess.run([sys.executable, "-m", EVALS[name], *ctx.args], check=False)
    raise typer.Exit(done.returncode)


@app.command()
def mcp() -> None:
    """Serve the MCP tools remember, recall, resume and forget over stdio, for the user of
    MEMSTRATA_MCP__TENANT / MEMSTRATA_MCP__USER."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(build_server(Settings()).run_stdio_async())


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
    database = await migrated_database(settings)
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
