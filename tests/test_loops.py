"""Open loops live and die: a dated plan is live until the day after it, then worth one
follow-up while the user has not been back; undated loops fade after a month; an answered
question is closed by the worker and never greets the user again."""

import uuid
from datetime import UTC, datetime, timedelta

from memory.core.domain import FactKind, Scope
from memory.core.loops import LOOP_LIFETIME, is_live, to_follow_up
from memory.core.records import Fact
from resume.policy import Mode
from service.container import Container

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE = Scope("acme", "alice")


def loop(kind: FactKind, occurs_at: datetime | None = None, **ended: object) -> Fact:
    return Fact(
        id=uuid.uuid4(),
        scope=ALICE,
        kind=kind,
        text="Plans to run the Lisbon half marathon",
        importance=0.6,
        confidence=0.6,
        attribute=None,
        valid_from=T0,
        valid_to=ended.get("valid_to"),  # type: ignore[arg-type]
        superseded_by=None,
        created_at=T0,
        occurs_at=occurs_at,
    )


def test_a_dated_plan_is_live_until_the_day_after_then_followed_up_once() -> None:
    race = T0 + timedelta(days=10)
    plan = loop(FactKind.PLAN, occurs_at=race)
    assert is_live(plan, race + timedelta(hours=12))
    assert not is_live(plan, race + timedelta(days=2))
    after = race + timedelta(days=3)
    assert to_follow_up(plan, after, last_seen=T0), "not back since: ask how it went"
    assert not to_follow_up(plan, after, last_seen=race + timedelta(days=2)), "asked already"
    assert not to_follow_up(plan, race + timedelta(days=40), last_seen=T0), "too long ago"


def test_undated_loops_fade_and_closed_ones_are_gone() -> None:
    question = loop(FactKind.OPEN_QUESTION)
    assert is_live(question, T0 + timedelta(days=3))
    assert not is_live(question, T0 + LOOP_LIFETIME + timedelta(days=1))
    closed = loop(FactKind.OPEN_QUESTION, valid_to=T0 + timedelta(days=1))
    assert not is_live(closed, T0 + timedelta(days=2))
    assert not is_live(loop(FactKind.PREFERENCE), T0)


async def say(app: Container, *lines: str) -> None:
    sid = uuid.uuid4()
    for line in lines:
        await app.sessions.append(ALICE, sid, "user", line)
        app.clock.advance(minutes=1)  # type: ignore[attr-defined]
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()


async def test_an_answered_question_is_closed_and_never_greets_again(app: Container) -> None:
    await say(app, "Should I join a running club?")
    open_now = await app.facts.list_facts(ALICE, kinds=["open_question"])
    assert len(open_now) == 1
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    context = await app.resumer.resume(ALICE)
    assert context.mode is Mode.PRIMED and "running club" in (context.greeting or "")
    await say(app, "Good news: I joined a running club in Lisbon, we run on Tuesdays.")
    assert await app.facts.list_facts(ALICE, kinds=["open_question"]) == []
    history = await app.facts.list_facts(ALICE, kinds=["open_question"], include_superseded=True)
    assert [q.valid_to is not None for q in history] == [True], "closed, not deleted"
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    context = await app.resumer.resume(ALICE)
    assert "Should I join" not in (context.greeting or "")
    loops = next((b for b in context.blocks if b.title == "Open loops and follow-ups"), None)
    assert loops is None or not any("Should I join" in i.text for i in loops.items)


async def test_a_reply_that_does_not_know_leaves_the_question_open(app: Container) -> None:
    """The assistant's words on the very subject are no answer: whether its reply knew is
    the extractor's call; what it says later in passing closes nothing."""
    sid = uuid.uuid4()
    for role, line in (
        ("user", "got rear-ended on the M25 last thursday. other driver admitted fault"),
        ("assistant", "Sorry to hear it. Report it to your insurer and keep the photos."),
        ("user", "will my no claims bonus get hit even though it wasn't my fault??"),
        (
            "assistant",
            "It really depends on your insurer and how the claim gets recorded, "
            "so I can't tell you for certain. Ring them and ask how a non-fault claim affects it.",
        ),
        ("user", "ok. I'm seeing a physio on monday for my neck"),
        ("assistant", "Good idea, keep any receipts in case you claim for treatment."),
    ):
        await app.sessions.append(ALICE, sid, role, line)
        app.clock.advance(minutes=1)  # type: ignore[attr-defined]
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()
    [still] = await app.facts.list_facts(ALICE, kinds=["open_question"])
    assert "no claims bonus" in still.text and still.valid_to is None


async def test_a_dated_plan_passes_and_is_followed_up_once(app: Container) -> None:
    """ "Next Saturday I run the Porto half marathon": live until that Saturday is over,
    then the next context asks once whether it happened, and never again after the user
    has been back."""
    await say(app, "This Friday I'm running the Porto half marathon with my sister.")
    [plan] = await app.facts.list_facts(ALICE, kinds=["plan"])
    assert plan.occurs_at is not None and plan.occurs_at > plan.valid_from
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    before = await app.resumer.resume(ALICE)
    loops = next(b for b in before.blocks if b.title == "Open loops and follow-ups")
    assert any(i.cite == f"fact:{plan.id}" and "Has it" not in i.text for i in loops.items)
    app.clock.now = plan.occurs_at + timedelta(days=2)  # type: ignore[attr-defined]
    after = await app.resumer.resume(ALICE)
    asked = next(b for b in after.blocks if b.title == "Open loops and follow-ups")
    assert [i.text.startswith("Has it happened?") for i in asked.items] == [True]
    await say(app, "Hi again, quick question about my running shoes.")
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    later = await app.resumer.resume(ALICE)
    assert not any(
        "half marathon" in i.text
        for b in later.blocks
        if b.title.startswith("Open")
        for i in b.items
    )
