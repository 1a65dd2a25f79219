"""Session digests: counts, dates, topics, decisions and open loops from the messages and
their facts — and never a message's own words, which may hold what redaction missed."""

import uuid
from datetime import UTC, datetime, timedelta

from memory.domain import FactKind, Role, Scope
from memory.journal import render
from memory.records import Fact, Message
from reflection.digest import digest
from reflection.journal import compose

SAID = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SCOPE = Scope("t", "u")


def messages(*turns: tuple[str, str]) -> list[Message]:
    session = uuid.uuid4()
    return [
        Message(
            uuid.uuid4(),
            SCOPE,
            session,
            i + 1,
            Role(role),
            text,
            f"k{i}",
            SAID + timedelta(hours=i * 20),
        )
        for i, (role, text) in enumerate(turns)
    ]


def fact(kind: FactKind, text: str) -> Fact:
    return Fact(uuid.uuid4(), SCOPE, kind, text, 0.6, 0.8, None, SAID, None, None, SAID)


OPENING = "My locker combination is nine two seven and the spare key sits under the Vespa"


def test_a_digest_never_quotes_a_message() -> None:
    said = messages(
        ("user", f"{OPENING}. The Vespa needs new brakes before the Lisbon trip."),
        ("assistant", "Noted. Anything else about the Vespa or Lisbon?"),
        ("user", "Book the Vespa service, please."),
    )
    facts = [
        fact(FactKind.DECISION, "Decided to book the Vespa service (2026-03-03)"),
        fact(FactKind.PLAN, "Plans to ride to Lisbon (said 2026-03-02)"),
    ]
    summary = digest(said, facts)
    assert OPENING not in summary.text
    assert "combination" not in summary.text and "nine two seven" not in summary.text
    assert summary.text.startswith("3 messages on 2026-03-02 to 2026-03-04.")
    assert "vespa" in summary.topics and "lisbon" in summary.topics
    assert summary.decisions == ("Decided to book the Vespa service (2026-03-03)",)
    assert summary.open_loops == ("Plans to ride to Lisbon (said 2026-03-02)",)
    assert "Decided to book the Vespa service (2026-03-03)." in summary.text
    assert "Still open: Plans to ride to Lisbon (said 2026-03-02)." in summary.text
    sections = compose((), summary, said[-1].created_at, None, ["Ride to Lisbon"], 8000)
    journal = render(sections)
    assert OPENING not in journal and "nine two seven" not in journal


def test_topics_of_a_long_message_are_found() -> None:
    long = " ".join(["Tell me about Saturn and its rings."] * 4000)
    summary = digest(messages(("user", long)), [])
    assert summary.topics[:2] == ("saturn", "rings")
    assert "Tell me" not in summary.text
