"""What one message can produce is capped: `capped` keeps the most important candidates per
source message, in their order; both extractors apply it; and a 32,000-character adversarial
message yields at most the cap, in bounded time."""

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memory.core.domain import FactKind, Role, Scope
from memory.core.records import Message
from memory.core.settings import LLMSettings, ReflectionSettings
from memory.infra.llm import LLM, Usage
from reflection.extraction import (
    MAX_FACTS_PER_MESSAGE,
    Candidate,
    LLMExtractor,
    RuleExtractor,
    capped,
)
from tests.openai_standin import StandIn, chat, serve

SAID = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
A, B = uuid.uuid4(), uuid.uuid4()


def candidate(text: str, importance: float, *sources: uuid.UUID) -> Candidate:
    return Candidate(FactKind.EVENT, text, importance, 0.8, None, SAID, sources)


def user_said(*texts: str) -> list[Message]:
    session = uuid.uuid4()
    return [
        Message(
            uuid.uuid4(),
            Scope("t", "u"),
            session,
            i + 1,
            Role.USER,
            text,
            f"k{i}",
            SAID + timedelta(minutes=i),
        )
        for i, text in enumerate(texts)
    ]


def test_the_default_cap_is_the_settings_default() -> None:
    assert ReflectionSettings().max_facts_per_message == MAX_FACTS_PER_MESSAGE == 12


def test_capped_keeps_the_most_important_per_message_in_their_order() -> None:
    found = [
        candidate("a1", 0.2, A),
        candidate("b1", 0.1, B),
        candidate("a2", 0.9, A),
        candidate("a3", 0.5, A),
        candidate("a4", 0.5, A),
    ]
    assert [c.text for c in capped(found, 2)] == ["b1", "a2", "a3"]
    assert capped(found, 10) == found


def test_a_candidate_citing_several_messages_counts_against_each() -> None:
    found = [candidate("ab", 0.9, A, B), candidate("a", 0.5, A), candidate("b", 0.4, B)]
    assert [c.text for c in capped(found, 1)] == ["ab"]
    assert [c.text for c in capped(found, 2)] == ["ab", "a", "b"]


async def test_the_rule_extractor_keeps_the_cap_per_message() -> None:
    likes = " ".join(f"I like thing{i}." for i in range(30))
    messages = user_said(likes, "I live in Porto.")
    found = await RuleExtractor(max_facts_per_message=5).extract(messages, Usage())
    per_message = [sum(m.id in c.source_message_ids for c in found) for m in messages]
    assert per_message == [5, 1]
    assert [c.text for c in found[:2]] == ["Likes thing0", "Likes thing1"], "first on a tie"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with serve(StandIn()) as running:
        yield running


async def test_the_llm_extractor_keeps_the_most_important_per_message(standin: StandIn) -> None:
    facts = [
        {"kind": "event", "text": f"Fact {i}", "importance": i / 40, "source_seqs": [1]}
        for i in range(30)
    ] + [{"kind": "event", "text": "Other", "importance": 0.1, "source_seqs": [2]}]
    standin.script.append(chat(json.dumps({"facts": facts})))
    llm = LLM(LLMSettings(base_url=standin.base_url, model="stand-in-1", timeout_s=5))
    try:
        found = await LLMExtractor(llm, max_facts_per_message=3).extract(
            user_said("a long story", "more"), Usage()
        )
    finally:
        await llm.close()
    assert [c.text for c in found] == ["Fact 27", "Fact 28", "Fact 29", "Other"]


# Every shape that once cost quadratic time or yielded hundreds of facts, at 32,000 chars.
_ADVERSARIAL = textwrap.dedent(
    """
    import asyncio, json, sys, uuid
    from datetime import UTC, datetime
    from memory.core.domain import Role, Scope
    from memory.infra.llm import Usage
    from memory.core.records import Message
    from memory.core.settings import REDACT_KINDS
    from reflection.extraction import RuleExtractor
    from reflection.redaction import Redactor

    units = [
        "a", "I like ", "my name is ", "I live in Now ", "I will go ", "I decided to go ",
        "I work as a ", "my dog Rex ", ".,;!? ", " ", " \\n", "why? ", "I'm a nurse. ",
        "I like x too ", "My daughter Mia. ", "I hate it and ", "Aaaa ", "1 ",
    ]
    texts = [(unit * (32_000 // len(unit) + 1))[:32_000] for unit in units]
    texts.append("I live in " + "Now " * 7_990 + "Porto")
    texts.append("my dog A" + "a" * 31_990 + "1")
    said = datetime(2026, 3, 2, tzinfo=UTC)
    scope, session = Scope("t", "u"), uuid.uuid4()
    messages = [
        Message(uuid.uuid4(), scope, session, i + 1, Role.USER, text, f"k{i}", said)
        for i, text in enumerate(texts)
    ]
    messages = Redactor(REDACT_KINDS, {}).messages(messages)
    found = asyncio.run(RuleExtractor().extract(messages, Usage()))
    print(json.dumps([sum(m.id in c.source_message_ids for c in found) for m in messages]))
    """
)


def test_an_adversarial_message_yields_at_most_the_cap_and_finishes() -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _ADVERSARIAL],
        cwd=root,
        check=True,
        timeout=180,
        capture_output=True,
        text=True,
    )
    per_message = json.loads(done.stdout)
    assert len(per_message) == 20
    assert max(per_message) == MAX_FACTS_PER_MESSAGE, "the flood is cut, not the facts"
