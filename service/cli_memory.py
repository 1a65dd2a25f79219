"""`memstrata memory`: look after one user's memories by hand — list them, add one the user
asked to be remembered, correct, delete or pin one, delete an insight. Every change is in
the run ledger with "cli" as who made it."""

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from memory.core.domain import FactKind
from service import schemas
from service.commands import run
from service.container import Container
from service.local_client import LocalClient

memory = typer.Typer(help="One user's memories, by hand.", no_args_is_help=True)
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id")]
UserOpt = Annotated[str, typer.Option("--user", "-u", help="User id (tenant-local)")]
FactArg = Annotated[str, typer.Argument(help="The fact's id (see `memstrata memory list`)")]
ACTOR = "cli"


def _client(c: Container, tenant_id: str) -> LocalClient:
    return LocalClient(c, tenant_id, actor=ACTOR)


def _show(facts: list[schemas.FactOut]) -> None:
    table = Table("id", "kind", "since", "pinned", "text")
    for f in facts:
        table.add_row(
            str(f.id), f.kind.value, f"{f.valid_from:%Y-%m-%d}", "yes" if f.pinned else "", f.text
        )
    Console().print(table)


@memory.command("list")
def list_facts(
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
    kind: Annotated[list[FactKind] | None, typer.Option(help="Only these kinds")] = None,
    as_of: Annotated[
        datetime | None, typer.Option(help="What was current then (ISO 8601, with a zone)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """The user's current facts (or those current at --as-of), newest first."""
    kinds = [k.value for k in kind] if kind else None
    _show(
        run(
            lambda c: _client(c, tenant_id).facts(user_id, kinds=kinds, as_of=as_of, limit=limit),
            tenant_id,
        )
    )


@memory.command("add")
def add(
    kind: Annotated[FactKind, typer.Argument(help="profile, preference, relation, …")],
    text: Annotated[str, typer.Argument(help="What to remember, as a statement")],
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
    importance: Annotated[float, typer.Option(min=0, max=1)] = 0.8,
    pin: Annotated[bool, typer.Option("--pin", help="Keep it in every profile")] = False,
) -> None:
    """Remember something the user asked to be remembered; prints the fact's id."""
    fact = run(
        lambda c: _client(c, tenant_id).remember(
            user_id, kind.value, text, importance=importance, pinned=pin
        ),
        tenant_id,
    )
    typer.echo(str(fact.id))


@memory.command("correct")
def correct(
    fact_id: FactArg,
    text: Annotated[str, typer.Argument(help="What the fact should say instead")],
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
    kind: Annotated[FactKind | None, typer.Option(help="A new kind")] = None,
    importance: Annotated[float | None, typer.Option(min=0, max=1)] = None,
) -> None:
    """Correct a fact: a new version supersedes it (the old stays readable --as-of before
    now); prints the new version's id."""
    fact = run(
        lambda c: _client(c, tenant_id).correct(
            user_id, fact_id, text, kind=kind.value if kind else None, importance=importance
        ),
        tenant_id,
    )
    typer.echo(str(fact.id))


@memory.command("delete")
def delete(
    fact_id: FactArg,
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
) -> None:
    """Delete one fact for good, and every insight that cites it."""
    run(lambda c: _client(c, tenant_id).delete_fact(user_id, fact_id), tenant_id)
    typer.echo(f"deleted {fact_id}")


@memory.command("delete-insight")
def delete_insight(
    knowledge_id: Annotated[str, typer.Argument(help="The insight's id")],
    tenant_id: TenantOpt = "default",
    user_id: UserOpt = "default",
) -> None:
    """Delete one insight of the knowledge tier for good, every version of it."""
    run(lambda c: _client(c, tenant_id).delete_insight(user_id, knowledge_id), tenant_id)
    typer.echo(f"deleted {knowledge_id}")


@memory.command("pin")
def pin(fact_id: FactArg, tenant_id: TenantOpt = "default", user_id: UserOpt = "default") -> None:
    """Keep a fact in the profile of every resumption context."""
    run(lambda c: _client(c, tenant_id).pin(user_id, fact_id), tenant_id)
    typer.echo(f"pinned {fact_id}")


@memory.command("unpin")
def unpin(fact_id: FactArg, tenant_id: TenantOpt = "default", user_id: UserOpt = "default") -> None:
    """Stop keeping a fact in every profile."""
    run(lambda c: _client(c, tenant_id).pin(user_id, fact_id, False), tenant_id)
    typer.echo(f"unpinned {fact_id}")
