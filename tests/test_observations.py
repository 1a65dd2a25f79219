"""Observations: informative statements of either speaker in the third person, the speaker
named, relative times resolved against when they were said; small talk, reactions and
bare questions dropped; importance from signals."""

import uuid
from datetime import UTC, datetime

import pytest

from memory.core.domain import FactKind, Role, Scope, Tier
from memory.core.records import Message, Provenance, RecallHit, ScoreParts
from memory.stores.recall import distinct
from reflection.observations import importance, observe, resolved, third_person
from service.container import Container

SAID_AT = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def said(role: Role, content: str) -> Message:
    return Message(
        id=uuid.uuid4(),
        scope=Scope("acme", "ana"),
        session_id=uuid.uuid4(),
        seq=1,
        role=role,
        content=content,
        idempotency_key=str(uuid.uuid4()),
        created_at=SAID_AT,
        archived_at=None,
        device_id=None,
    )


def test_a_named_transcript_becomes_third_person_observations() -> None:
    texts = [
        o.text
        for o in observe(
            [
                said(Role.USER, "Caroline: Hey Mel! Good to see you! How have you been?"),
                said(Role.ASSISTANT, "Melanie: Hey Caroline! I'm swamped with the kids & work."),
                said(Role.ASSISTANT, "Melanie: I signed the kids up for swimming lessons."),
                said(Role.USER, "Caroline: I went to a support group yesterday. It was moving."),
                said(Role.ASSISTANT, "Melanie: Wow, that's cool! Did you hear any stories?"),
            ]
        )
    ]
    assert texts == [
        "Melanie signed the kids up for swimming lessons.",
        "Caroline went to a support group yesterday (2023-05-07).",
    ], "a remark with little in it (swamped with work) is not kept"


def test_without_names_the_user_and_the_assistant_are_named_by_role() -> None:
    found = observe([said(Role.USER, "My sister Lena moved to Berlin last month.")])
    assert [o.text for o in found] == [
        "The user's sister Lena moved to Berlin last month (April 2023)."
    ]


@pytest.mark.parametrize(
    "sentence",
    ["Thanks so much!", "Haha yes, totally.", "What do you think about Lisbon?", "Okay, cool."],
)
def test_small_talk_reactions_and_bare_questions_are_dropped(sentence: str) -> None:
    assert observe([said(Role.USER, sentence)]) == []


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("I ran yesterday", "I ran yesterday (2023-05-07)"),
        ("I fly tomorrow", "I fly tomorrow (2023-05-09)"),
        ("we met two weeks ago", "we met two weeks ago (week of 2023-04-24)"),
        ("I start in three days", "I start in three days (2023-05-11)"),
        ("we married last year", "we married last year (2022)"),
    ],
)
def test_relative_times_are_resolved_against_when_they_were_said(
    phrase: str, expected: str
) -> None:
    assert resolved(phrase, SAID_AT) == expected


def test_persons_are_rewritten() -> None:
    assert (
        third_person("I'm sure my dog likes you", "Ana", "Bo") == "Ana is sure Ana's dog likes Bo"
    )
    assert (
        third_person("Your plan is good, I think", "Ana", None) == "Your plan is good, Ana thinks"
    )
    assert (
        third_person("I have a cat and I go out", "Ana", None) == "Ana has a cat and Ana goes out"
    )


def test_importance_rises_with_health_and_remember() -> None:
    plain = importance("I had a nice walk", Role.USER)
    assert importance("I'm allergic to peanuts", Role.USER) > plain
    assert importance("Remember that I park on level 3", Role.USER) > plain


async def test_an_observation_stands_in_for_its_message_only_once_the_message_is_gone(
    app: Container,
) -> None:
    """While the message is kept, recall finds the message (it has the context); after
    retention deleted it, the observation made of it is what recall finds."""
    ana = Scope("acme", "ana")
    sid = uuid.uuid4()
    await app.sessions.append(ana, sid, "user", "My sister Lena moved to Berlin for a job.")
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()
    hits = await app.recall.recall(ana, "where did Lena move?", 5)
    assert any(h.tier.value == "raw" and "Lena" in h.text for h in hits)
    assert not any(h.kind is not None and h.kind.value == "observation" for h in hits)
    app.clock.advance(days=40)  # type: ignore[attr-defined]
    await app.worker.tick()  # retention deletes the archived transcript
    hits = await app.recall.recall(ana, "where did Lena move?", 5)
    assert any(
        h.kind is not None and h.kind.value == "observation" and "Berlin" in h.text for h in hits
    )
    assert all(h.tier.value != "raw" for h in hits)


async def test_a_statement_typed_by_its_cues_also_lets_its_message_speak(app: Container) -> None:
    """A statement no pattern read but its cues typed (a plan, by its date) restates its
    message just as an observation does: recall shows the message while it is kept."""
    ana = Scope("acme", "ana")
    await app.sessions.append(ana, uuid.uuid4(), "user", "The wedding is March 22nd, in Porto.")
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()
    typed = [f for f in await app.facts.list_facts(ana) if "wedding" in f.text.lower()]
    assert typed and all(f.restates for f in typed)
    assert any(f.kind is FactKind.PLAN for f in typed)
    hits = await app.recall.recall(ana, "when is the wedding?", 5)
    assert any(h.tier.value == "raw" and "wedding" in h.text for h in hits)
    assert not any(h.tier.value == "facts" and "wedding" in h.text.lower() for h in hits)


def _hit(tier: Tier, *messages: uuid.UUID, kind: FactKind | None = None) -> RecallHit:
    parts = ScoreParts(None, None, None, None, None, 0.0, 0.0, 0.0)
    return RecallHit(
        tier, uuid.uuid4(), "…", SAID_AT, 0.0, parts, Provenance(tuple(messages)), kind
    )


def test_recall_leaves_out_what_better_hits_already_say() -> None:
    m1, m2 = uuid.uuid4(), uuid.uuid4()
    raw = _hit(Tier.RAW, m1)
    observation = _hit(Tier.FACTS, m1, kind=FactKind.OBSERVATION)
    typed = _hit(Tier.FACTS, m1, kind=FactKind.PROFILE)
    summary = _hit(Tier.SUMMARIES, m1)
    other_summary = _hit(Tier.SUMMARIES, m1, m2)
    raw_after_summary = _hit(Tier.RAW, m2)
    kept = distinct([raw, observation, typed, summary, other_summary, raw_after_summary])
    assert kept == [raw, typed, other_summary, raw_after_summary], (
        "a typed fact is kept; a summary is dropped only when all it retells is in already, "
        "and it never hides a message"
    )
