"""Session digests: counts, dates, topics, decisions and open loops from the messages and
their facts — and never a message's own words, which may hold what redaction missed."""

import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from memory.core.domain import FactKind, Role, Scope
from memory.core.records import Fact, Message
from memory.stores.journal import render
from reflection.digest import digest, title
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
    assert summary.topics[:2] == ("Vespa", "Lisbon")  # names keep their case
    assert summary.decisions == ("Decided to book the Vespa service (2026-03-03)",)
    assert summary.open_loops == ("Plans to ride to Lisbon (said 2026-03-02)",)
    assert summary.text == (
        "Decided to book the Vespa service (2026-03-03). Plans to ride to Lisbon."
    )
    assert summary.headline == "Decided to book the Vespa service"
    sections = compose((), summary, said[-1].created_at, None, ["Ride to Lisbon"], 8000)
    journal = render(sections)
    assert OPENING not in journal and "nine two seven" not in journal


def test_topics_of_a_long_message_are_found() -> None:
    long = " ".join(["Tell me about Saturn and its rings."] * 4000)
    summary = digest(messages(("user", long)), [])
    assert summary.topics[:2] == ("Saturn", "rings")
    assert "Tell me" not in summary.text
    assert summary.text == "Talked about Saturn and rings."


def test_a_digest_reads_as_sentences_headed_by_what_mattered_most() -> None:
    said = messages(
        ("user", "I'm Marta. My dog Bruno kept me up all night, so I'll hire a dog walker."),
        ("user", "Should I join a running club?"),
    )
    facts = [
        fact(FactKind.PROFILE, "Is named Marta"),
        fact(FactKind.OBSERVATION, "The user's dog Bruno kept the user up all night."),
        fact(FactKind.DECISION, "Decided to hire a dog walker for weekdays (2026-03-02)"),
        fact(FactKind.OPEN_QUESTION, "Should I join a running club?"),
    ]
    facts[0] = replace(facts[0], attribute="name")
    summary = digest(said, facts)
    assert summary.text == (
        "The user's dog Bruno kept the user up all night. "
        "Decided to hire a dog walker for weekdays (2026-03-02). "
        "Left unanswered: Should I join a running club?"
    )
    assert summary.headline == "Decided to hire a dog walker for weekdays"
    assert "Marta" not in summary.topics and "marta" not in summary.topics  # who, not what
    assert "Bruno" in summary.topics
    [section] = compose((), summary, said[-1].created_at, None, [], 8000)
    assert section.title == "2026-03-03 — Decided to hire a dog walker for weekdays"


def test_a_long_headline_is_cut_at_a_word() -> None:
    long = "Decided to " + " ".join(["reorganise the garden shed"] * 8)
    cut = title(long)
    assert len(cut) <= 80 and cut.endswith("…")
    assert long.startswith(cut[:-1]) and long[len(cut) - 1] == " "  # cut between words


def test_a_plan_the_highlight_already_tells_is_not_told_twice() -> None:
    said = messages(("user", "Yes, I'm going to run 15 km this Sunday along the Douro."))
    facts = [
        fact(FactKind.OBSERVATION, "The user is going to run 15 km this Sunday along the Douro."),
        fact(FactKind.PLAN, "Plans to run 15 km along the Douro (this sunday; said 2026-03-02)"),
    ]
    summary = digest(said, facts)
    assert summary.text == "The user is going to run 15 km this Sunday along the Douro."
    assert summary.open_loops == (facts[1].text,)  # still a loop, as data


_ADVERSARIAL = """
import uuid
from datetime import UTC, datetime
from memory.core.domain import FactKind, Role, Scope
from memory.core.records import Fact, Message
from reflection.digest import digest, title

said, scope = datetime(2026, 3, 2, tzinfo=UTC), Scope("t", "u")
units = [" ", "( ", "; said ", "said 2026-03-02 ", "(said ", "a ( b ", " \\t"]
texts = [(unit * (32_000 // len(unit) + 1))[:32_000] for unit in units]
facts = [
    Fact(uuid.uuid4(), scope, kind, text, 0.9, 0.8, None, said, None, None, said)
    for text in texts
    for kind in (FactKind.OBSERVATION, FactKind.DECISION, FactKind.PLAN)
]
message = Message(uuid.uuid4(), scope, uuid.uuid4(), 1, Role.USER, texts[0], "k", said)
print(len(digest([message], facts).text) > 0, all(len(title(t)) <= 80 for t in texts))
"""


def test_a_digest_of_adversarial_fact_texts_finishes() -> None:
    """What a tenant says reaches the digest as fact texts of up to 32,000 characters; no
    pattern may take time quadratic in them (the digest runs in the worker)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _ADVERSARIAL],
        cwd=root,
        check=True,
        timeout=30,  # linear work takes well under a second; quadratic took minutes
        capture_output=True,
        text=True,
    )
    assert done.stdout.split() == ["True", "True"]
