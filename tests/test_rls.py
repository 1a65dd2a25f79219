"""Row-level security, the second line of isolation: statements with no scope filter at all,
sent on the service's own engine, still see and change only the rows of the user the
transaction is bound to, and a transaction bound to nobody sees nothing."""

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.core.domain import Scope
from memory.core.settings import Settings
from memory.infra.database import make_engine
from memory.infra.rls import APP_ROLE, SYSTEM, Access, TenantWide, owner_transaction, transaction
from memory.stores.journal import note
from reflection.ledger import Ledger
from service.container import Container, build_container
from tests.conftest import TravelClock, database_url

ALICE = Scope("acme", "alice")
BOB = Scope("acme", "bob")
CAROL = Scope("globex", "alice")  # the same user id in another tenant
EVERYONE = (ALICE, BOB, CAROL)

# Every table with a user's rows, found in the catalog rather than listed by hand.
_USER_TABLES = """
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND (
  c.relname = 'users' OR EXISTS (
    SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id'
  )
)
ORDER BY c.relname
"""


@pytest.fixture
async def app(fresh_database: str, clock: TravelClock) -> AsyncIterator[Container]:
    """A service on the Postgres session store (so `session_cache` has rows too) where
    alice, bob and carol each own a row in every tier."""
    settings = Settings.model_validate(
        {"database_url": fresh_database, "reflection": {"extraction": "rules"}}
    )
    container = await build_container(settings, clock=clock)
    ledger = Ledger(container.database.engine, clock)
    for scope in EVERYONE:
        sid = uuid.uuid4()
        said = f"{scope.tenant_id}/{scope.user_id} keeps bees"
        message = await container.sessions.append(scope, sid, "user", said, device_id="phone")
        fact = await container.facts.insert(
            scope, "profile", said, source_message_ids=[message.message.id]
        )
        await container.knowledge.add(scope, said, [fact.id])
        await container.summaries.put(scope, sid, said, started_at=clock.now, ended_at=clock.now)
        await container.journal.append(scope, [note(said)])
        async with ledger.run("extract", scope, sid) as run:
            run.status = "ok"
    yield container
    await container.close()


async def user_tables(engine: AsyncEngine) -> list[str]:
    async with owner_transaction(engine) as conn:
        rows = (await conn.execute(text(_USER_TABLES))).all()
    unprotected = [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity)]
    assert unprotected == [], f"tables with user rows but no forced policy: {unprotected}"
    return [r.relname for r in rows]


async def owners(conn: AsyncConnection, table: str) -> set[tuple[str, str]]:
    """Whose rows an unfiltered SELECT returns."""
    user = "id" if table == "users" else "user_id"
    rows = await conn.execute(text(f"SELECT DISTINCT tenant_id, {user} FROM {table}"))
    return {(t, u) for t, u in rows.all()}


def keys(*scopes: Scope) -> set[tuple[str, str]]:
    return {(s.tenant_id, s.user_id) for s in scopes}


async def test_the_service_connects_as_the_unprivileged_role(app: Container) -> None:
    async with transaction(app.database.engine, ALICE) as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                    "WHERE rolname = current_user"
                )
            )
        ).one()
    assert tuple(row) == (APP_ROLE, False, False)


@pytest.mark.parametrize(
    ("access", "visible"),
    [
        (ALICE, keys(ALICE)),
        (BOB, keys(BOB)),
        (CAROL, keys(CAROL)),
        (TenantWide("acme"), keys(ALICE, BOB)),
        (SYSTEM, keys(*EVERYONE)),
    ],
    ids=["alice", "bob", "carol-other-tenant", "tenant-wide", "system"],
)
async def test_an_unfiltered_select_sees_only_the_bound_rows(
    app: Container, access: Access, visible: set[tuple[str, str]]
) -> None:
    engine = app.database.engine
    tables = await user_tables(engine)
    assert len(tables) >= 11
    async with transaction(engine, access) as conn:
        for table in tables:
            assert await owners(conn, table) == visible, table


async def test_a_transaction_bound_to_nobody_sees_nothing(app: Container) -> None:
    engine = app.database.engine
    tables = await user_tables(engine)
    async with engine.connect() as conn:
        for table in tables:
            assert await owners(conn, table) == set(), table
            await conn.rollback()


async def test_binding_ends_with_the_transaction_on_a_pooled_connection(
    fresh_database: str, app: Container
) -> None:
    engine = make_engine(fresh_database, 1)  # one connection, reused every time
    try:
        async with transaction(engine, ALICE) as conn:
            assert await owners(conn, "facts") == keys(ALICE)
        async with engine.begin() as conn:  # the same connection, unbound
            assert await owners(conn, "facts") == set()
        async with transaction(engine, ALICE) as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with engine.begin() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == pid
    finally:
        await engine.dispose()


async def test_unfiltered_writes_change_only_the_bound_rows(app: Container) -> None:
    engine = app.database.engine
    async with transaction(engine, ALICE) as conn:
        changed = await conn.execute(text("UPDATE facts SET importance = 0.99"))
        assert changed.rowcount == 1
        deleted = await conn.execute(text("DELETE FROM journal_entries"))
        assert deleted.rowcount == 1
    async with owner_transaction(engine) as conn:
        rows = await conn.execute(text("SELECT user_id, tenant_id, importance FROM facts"))
        touched = {(r.tenant_id, r.user_id) for r in rows if r.importance == 0.99}
        left = await owners(conn, "journal_entries")
    assert touched == keys(ALICE)
    assert left == keys(BOB, CAROL)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO users (tenant_id, id) VALUES ('acme', 'mallory')",
        "INSERT INTO users (tenant_id, id) VALUES ('globex', 'alice')",
        "UPDATE facts SET user_id = 'bob'",
        "UPDATE sessions SET tenant_id = 'globex'",
        "INSERT INTO journal_entries (id, tenant_id, user_id, version, content, created_at) "
        "VALUES (gen_random_uuid(), 'acme', 'bob', 99, 'planted', now())",
    ],
    ids=["new-user", "other-tenant-user", "move-fact", "move-session", "plant-journal"],
)
async def test_writing_a_row_for_someone_else_is_refused(app: Container, statement: str) -> None:
    engine = app.database.engine
    with pytest.raises(DBAPIError, match="row-level security"):
        async with transaction(engine, ALICE) as conn:
            await conn.execute(text(statement))
    async with owner_transaction(engine) as conn:  # and nothing of it stayed
        assert await owners(conn, "users") == keys(*EVERYONE)
        assert await owners(conn, "facts") == keys(*EVERYONE)
        planted = await conn.scalar(text("SELECT count(*) FROM journal_entries WHERE version = 99"))
        assert planted == 0


async def test_a_store_handed_a_foreign_id_still_reads_nothing(app: Container) -> None:
    """What a query bug would do: look a row up by id alone, with no scope filter."""
    engine = app.database.engine
    async with owner_transaction(engine) as conn:
        bobs = await conn.scalar(text("SELECT id FROM facts WHERE user_id = 'bob'"))
    async with transaction(engine, ALICE) as conn:
        found = await conn.execute(text("SELECT text FROM facts WHERE id = :id"), {"id": bobs})
        assert found.all() == []
    async with transaction(engine, BOB) as conn:
        found = await conn.execute(text("SELECT text FROM facts WHERE id = :id"), {"id": bobs})
        assert found.scalar_one() == "acme/bob keeps bees"


@pytest.fixture
async def owned_database(admin: AsyncEngine, server_url: str) -> AsyncIterator[tuple[str, str]]:
    """A database owned by an ordinary login role, as on a managed Postgres: the role
    migrates it and runs the service, owning every table (pgvector put in by an admin)."""
    role = f"owner_{uuid.uuid4().hex[:8]}"
    name = f"owned_{uuid.uuid4().hex[:8]}"
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        await conn.execute(text(f'CREATE DATABASE "{name}" OWNER {role}'))
    superuser = make_engine(database_url(server_url, name), 1)
    async with owner_transaction(superuser) as conn:
        await conn.execute(text("CREATE EXTENSION vector"))
    await superuser.dispose()
    url = database_url(server_url, name).replace("://postgres", f"://{role}", 1)
    assert role in url
    yield url, role
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f"DROP ROLE {role}"))


async def test_forced_policies_bind_an_owner_that_is_an_ordinary_role(
    owned_database: tuple[str, str], clock: TravelClock
) -> None:
    url, role = owned_database
    settings = Settings.model_validate({"database_url": url})
    container = await build_container(settings, clock=clock)
    engine = container.database.engine
    try:
        for scope in EVERYONE:
            await container.facts.insert(scope, "profile", f"{scope.user_id} keeps bees")
        async with transaction(engine, ALICE) as conn:
            assert await conn.scalar(text("SELECT current_user")) == role
            assert await owners(conn, "facts") == keys(ALICE)
        async with engine.connect() as conn:
            assert await owners(conn, "facts") == set()
        async with owner_transaction(engine) as conn:
            assert await owners(conn, "facts") == keys(*EVERYONE)
    finally:
        await container.close()
