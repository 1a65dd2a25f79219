"""Redaction before extraction: the built-in kinds, a tenant's own patterns, and — through
the real worker — facts, summaries and the journal that never hold what was redacted, while
the raw transcript keeps the user's words."""

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from memory.domain import Scope
from memory.errors import InvalidInput
from memory.rls import owner_transaction
from memory.settings import REDACT_KINDS, Settings
from reflection.redaction import Redactor, luhn_ok
from service.container import Container, build_container
from tests.conftest import TravelClock

ALL = Redactor(REDACT_KINDS, {})


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("write to ana.lima+work@mail.example.pt please", "write to [email] please"),
        ("call me on +351 912 345 678 tonight", "call me on [phone] tonight"),
        ("my number is (415) 555-0134", "my number is [phone]"),
        ("or 4155550134 works", "or [phone] works"),
        ("card 4111 1111 1111 1111 exp 12/29", "card [card] exp 12/29"),
        ("card 4111-1111-1111-1111", "card [card]"),
    ],
)
def test_built_in_kinds_are_replaced(said: str, kept: str) -> None:
    assert ALL.redact(said) == kept


@pytest.mark.parametrize(
    "said",
    [
        "we met on 2024-05-08 at 10:30",
        "order 1234 5678 9012 3456 arrived",  # 16 digits, but not a card number (Luhn)
        "I ran 5 km in 27 minutes",
        "the meeting is in room 301",
        "version 3.11.7 of python",
    ],
)
def test_ordinary_numbers_are_left_alone(said: str) -> None:
    assert ALL.redact(said) == said


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("1234567890123456")


def test_only_the_chosen_kinds_and_named_patterns_apply() -> None:
    redactor = Redactor(["email"], {"member_id": r"\bMBR-\d{6}\b"})
    assert (
        redactor.redact("ana@example.com, +44 20 7946 0958, MBR-123456")
        == "[email], +44 20 7946 0958, [member_id]"
    )


@pytest.mark.parametrize(
    "patterns",
    [{"bad": "(unclosed"}, {"Bad Name": "x"}, {"empty": "a*"}, {f"p{i}": "x" for i in range(21)}],
)
def test_bad_patterns_are_refused_when_set(patterns: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="redact_patterns"):
        Settings.model_validate({"reflection": {"redact_patterns": patterns}})


@pytest.fixture
async def app(fresh_database: str, clock: TravelClock) -> AsyncIterator[Container]:
    settings = Settings.model_validate({"database_url": fresh_database})
    container = await build_container(settings, clock=clock)
    yield container
    await container.close()


async def test_facts_summaries_and_journal_never_hold_redacted_spans(
    app: Container, clock: TravelClock
) -> None:
    await app.tenants.set_reflection("acme", {"redact_patterns": {"member_id": r"MBR-\d{6}"}})
    scope = Scope("acme", "ana")
    sid = uuid.uuid4()
    said = [
        "My email is ana.lima@example.com and my member id is MBR-123456.",
        "I live in Porto and my phone is +351 912 345 678.",
        "I prefer paying with my card 4111 1111 1111 1111.",
        "I decided to book the Douro trip for May.",
    ]
    for line in said:
        await app.sessions.append(scope, sid, "user", line)
        clock.advance(minutes=1)
    clock.advance(hours=3)
    await app.worker.tick()
    clock.advance(hours=3)
    await app.worker.tick()

    secrets = ["ana.lima@example.com", "MBR-123456", "912 345 678", "4111 1111 1111 1111"]
    async with owner_transaction(app.database.engine) as conn:
        stored = {
            table: " ".join(
                (await conn.execute(text(f"SELECT {column} FROM {table}"))).scalars().all()
            )
            for table, column in [
                ("facts", "text"),
                ("session_summaries", "text"),
                ("journal_entries", "content"),
                ("messages", "content"),
            ]
        }
    assert stored["facts"], "the worker extracted nothing; the test would prove nothing"
    assert stored["session_summaries"] and stored["journal_entries"]
    for table in ("facts", "session_summaries", "journal_entries"):
        for secret in secrets:
            assert secret not in stored[table], (table, secret)
    assert "Porto" in stored["facts"]  # what is not sensitive is still remembered
    for secret in secrets:  # the raw transcript keeps the user's words
        assert secret in stored["messages"]


async def test_a_tenant_cannot_set_a_bad_pattern(app: Container) -> None:
    with pytest.raises(InvalidInput):
        await app.tenants.set_reflection("acme", {"redact_patterns": {"x": "("}})
    with pytest.raises(InvalidInput):
        await app.tenants.set_reflection("acme", {"redact": ["ssn"]})
    assert (await app.tenants.settings("acme")).reflection.redact is None
