"""Redaction before extraction: the built-in kinds, a tenant's own patterns, and — through
the real worker — facts, summaries and the journal that never hold what was redacted, while
the raw transcript keeps the user's words."""

import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from memory.core.domain import Scope
from memory.core.errors import InvalidInput
from memory.core.settings import REDACT_KINDS, Settings
from memory.infra.rls import owner_transaction
from reflection.redaction import Redactor, iban_ok, luhn_ok
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


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("my SSN is 123-45-6789.", "my SSN is [national_id]."),
        ("ssn 123 45 6789 on file", "ssn [national_id] on file"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [iban] please"),
        ("pay GB82WEST12345698765432.", "pay [iban]."),
        ("to AT61 1904 3002 3457 3201 FROM me", "to [iban] FROM me"),
        ("my password is hunter2.", "my password is [secret]."),
        ("password: x", "password: [secret]"),
        ("pwd=s3cr3t", "pwd=[secret]"),
        ("the PIN is 4321", "the PIN is [secret]"),
        ("my password is now hunter2", "my password is now [secret]"),
        (
            "the passphrase for the vault is 'correct horse'",
            "the passphrase for the vault is [secret]",
        ),
        ("I set my passcode to 9981", "I set my passcode to [secret]"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz012345 ok", "key [secret] ok"),
        ("sk-abcdefghij0123456789abcdefghij", "[secret]"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[secret]"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", "[secret]"),
        ("id AKIAIOSFODNN7EXAMPLE", "id [secret]"),
        ("xoxb-123456789012-abcdefghij", "[secret]"),
        ("Authorization: Bearer abc123def456ghi789", "Authorization: Bearer [secret]"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
            "jwt [secret]",
        ),
        ("token a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8 here", "token [secret] here"),
    ],
)
def test_national_ids_ibans_and_secrets_are_replaced(said: str, kept: str) -> None:
    assert ALL.redact(said) == kept


@pytest.mark.parametrize(
    "said",
    [
        "we met on 2024-05-08 at 10:30, see you 05/08/2024",
        "call me at 10:30 in room 301-B, floor 3, page 12-14",
        "not an id: 000-12-3456",
        "bad check digits DE89 3704 0044 0532 0130 01",
        "ISO 9001 and AB12 CDEF are codes",
        "send me a password reset link",
        "I forgot my password, and the password is wrong",
        "my password manager is great",
        "pin the map; the pin is in the drawer",
        "use a Bearer token, Bearer authentication",
        "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word",
        "IMG_20240508_103000_HDR_v2_edited_final_version2.jpg",
        "request 550e8400-e29b-41d4-a716-446655440000 failed",
        "python 3.11.7, node v20.11.1, the task-management-system",
    ],
)
def test_ordinary_text_is_not_taken_for_ids_ibans_or_secrets(said: str) -> None:
    assert ALL.redact(said) == said


def test_luhn_and_iban_checks() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("1234567890123456")
    assert iban_ok("DE89 3704 0044 0532 0130 00")
    assert iban_ok("gb82west12345698765432")
    assert not iban_ok("DE89 3704 0044 0532 0130 01")
    assert not iban_ok("DE89")


def test_adjacent_spans_are_each_replaced() -> None:
    assert ALL.redact("4155550134 4155550134") == "[phone] [phone]"
    assert ALL.redact("a@b.com,c@d.com") == "[email],[email]"


def test_text_that_is_not_valid_unicode_survives() -> None:
    assert ALL.redact("x\ud800 ana@example.com \ud800") == "x\ud800 [email] \ud800"


# Exponential on a backtracking engine (2**30 steps for the tenant pattern), linear on RE2;
# the adversarial texts would be quadratic for a careless built-in pattern.
_LINEAR = textwrap.dedent(
    """
    from memory.core.settings import REDACT_KINDS
    from reflection.redaction import Redactor

    assert Redactor([], {"evil": r"(a+)+$"}).redact("a" * 30 + "!") == "a" * 30 + "!"
    assert Redactor([], {"evil": r"(a+)+$"}).redact("a" * 30) == "[evil]"
    redactor = Redactor(REDACT_KINDS, {"greedy": r"x(?:.*y)?"})
    for unit in ["a", "a1", "1 ", "1-", "@a.", "password is ", "pin ", "DE89 ", " ", "x"]:
        redactor.redact((unit * 32_000)[:32_000])
    """
)


def test_patterns_run_in_linear_time() -> None:
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", _LINEAR], cwd=root, check=True, timeout=120)


def test_only_the_chosen_kinds_and_named_patterns_apply() -> None:
    redactor = Redactor(["email"], {"member_id": r"\bMBR-\d{6}\b"})
    assert (
        redactor.redact("ana@example.com, +44 20 7946 0958, MBR-123456")
        == "[email], +44 20 7946 0958, [member_id]"
    )


@pytest.mark.parametrize(
    "patterns",
    [
        {"bad": "(unclosed"},
        {"Bad Name": "x"},
        {"empty": "a*"},
        {"boundary": r"\b"},
        {"long": "x" * 1001},
        {"huge": r"\pL{1,1000}"},
        {f"p{i}": "x" for i in range(21)},
    ],
)
def test_bad_patterns_are_refused_when_set(patterns: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="redact_patterns"):
        Settings.model_validate({"reflection": {"redact_patterns": patterns}})


@pytest.mark.parametrize("pattern", [r"(?<=x)y", r"(?<!x)y", r"x(?=y)", r"(a)\1", r"a++"])
def test_patterns_that_need_backtracking_are_refused_by_name(
    pattern: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match=r"member_id: not a pattern RE2 can run"):
        Settings.model_validate({"reflection": {"redact_patterns": {"member_id": pattern}}})
    assert capfd.readouterr().err == "", "RE2 must not log refused patterns to stderr"


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
