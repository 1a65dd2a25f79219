"""Resumption: the pure plan by time gap, and scenario timelines on the real stores — the
mode and the contents at each gap, tenant overrides, the token budget under huge memories,
greetings without durations, cross-device reporting, and tenant isolation."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from memory.core.domain import Scope
from memory.core.settings import ResumptionSettings
from resume.greeting import greeting
from resume.policy import LastSession, Mode, plan
from resume.render import message_tokens
from service.container import Container

ALICE = Scope("acme", "alice")
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DURATION = re.compile(r"\d+\s*(?:minute|hour|day|week|month|year)s?|yesterday|ago", re.I)


def last(gap: timedelta, status: str = "active") -> LastSession:
    return LastSession(uuid.uuid4(), NOW - gap, status, "phone")


@pytest.mark.parametrize(
    ("gap", "status", "mode"),
    [
        (timedelta(minutes=5), "active", Mode.FULL_RESTORE),
        (timedelta(minutes=90), "soft_expired", Mode.FULL_RESTORE),
        (timedelta(minutes=90), "archived", Mode.PRIMED),
        (timedelta(hours=3), "hard_expired", Mode.PRIMED),
        (timedelta(days=2), "archived", Mode.PRIMED),
        (timedelta(days=20), "archived", Mode.FRESH),
        (timedelta(days=60), "archived", Mode.FRESH),
    ],
)
def test_the_plan_follows_the_gap(gap: timedelta, status: str, mode: Mode) -> None:
    decided = plan(last(gap, status), NOW, ResumptionSettings())
    assert decided.mode is mode
    assert decided.gap_s == gap.total_seconds() and decided.session_status == status
    assert decided.reason


def test_no_earlier_session_means_fresh() -> None:
    decided = plan(None, NOW, ResumptionSettings())
    assert (decided.mode, decided.gap_s) == (Mode.FRESH, None)


def test_thresholds_come_from_the_policy() -> None:
    short = ResumptionSettings(full_restore_max_gap_s=600, primed_max_gap_s=86_400)
    assert plan(last(timedelta(minutes=20)), NOW, short).mode is Mode.PRIMED
    assert plan(last(timedelta(days=2)), NOW, short).mode is Mode.FRESH


@pytest.mark.parametrize("mode", list(Mode))
def test_greetings_never_mention_durations(mode: Mode) -> None:
    for topic in (None, "the API integration"):
        for loop in (None, "whether to hire a contractor"):
            text = greeting(mode, topic, loop, is_new=False)
            assert text and not DURATION.search(text)
    assert greeting(mode, "x", "y", is_new=True) is None


async def converse(app: Container, scope: Scope = ALICE, device: str = "laptop") -> uuid.UUID:
    sid = uuid.uuid4()
    turns = [
        ("user", "I'm a backend developer. Help me plan the API integration with Stripe."),
        ("assistant", "Sure — webhooks first, or the checkout flow?"),
        ("user", "Webhooks. We decided to use idempotency keys on every call."),
        ("user", "Should retries live in the queue or in the client?"),
    ]
    for role, content in turns:
        await app.sessions.append(scope, sid, role, content, device_id=device)
        app.clock.advance(minutes=1)  # type: ignore[attr-defined]
    state = await app.sessions.state(scope, sid)
    await app.sessions.update(
        scope,
        sid,
        state.version,
        topic="the Stripe API integration",
        flow={"name": "integration_plan", "step": "webhooks", "variables": {"provider": "stripe"}},
    )
    return sid


def rendered(context_messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in context_messages)


async def test_five_minutes_later_the_session_is_restored(app: Container) -> None:
    sid = await converse(app)
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    context = await app.resumer.resume(ALICE, "where were we?", device_id="laptop")
    assert context.mode is Mode.FULL_RESTORE and context.continues_session
    assert context.session_id == sid
    assert [m.content for m in context.restored][-1].startswith("Should retries")
    assert context.active_task is not None and context.active_task.step == "webhooks"
    text = rendered(context.messages)
    assert "integration_plan" in text and context.messages[-1]["role"] == "user"
    assert context.greeting == "Welcome back — shall we carry on with the Stripe API integration?"


async def test_three_hours_later_a_new_session_is_primed(app: Container) -> None:
    earlier = await converse(app)
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    await app.worker.tick()
    sid = await converse(app)
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()  # the session hard-expires: summary and journal are written
    context = await app.resumer.resume(ALICE, "ok let's continue", device_id="laptop")
    assert context.mode is Mode.PRIMED and not context.continues_session
    assert context.session_id not in (sid, earlier) and context.restored == ()
    titles = [b.title for b in context.blocks]
    assert titles[:4] == [
        "About the user",
        "Last session",
        "Open loops and follow-ups",
        "Earlier, from the journal",
    ]
    text = rendered(context.messages)
    assert "retries live in the queue" in text, "the open loop is carried over"
    assert f"session:{sid}" in text and "journal:v2" in text
    assert context.greeting is not None and "retries" in context.greeting
    loops = next(b for b in context.blocks if b.title == "Open loops and follow-ups")
    # Loops come from the live facts (a summary's loops are what was open back then).
    assert any("retries" in i.text and i.cite.startswith("fact:") for i in loops.items)


async def test_a_session_not_yet_summarized_keeps_the_one_before_in_the_journal_block(
    app: Container,
) -> None:
    """Found with the inspector: the journal's newest section was always dropped as "the
    last session", even when the last session had not ended and the newest section was
    the one before it."""
    for _ in range(2):
        await converse(app)
        app.clock.advance(days=2)  # type: ignore[attr-defined]
        await app.worker.tick()  # ended: summary and a journal version
    newest = await app.journal.latest(ALICE)
    assert newest is not None and newest.version == 2
    await app.sessions.append(ALICE, uuid.uuid4(), "user", "Quick one: what's a good pasta?")
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    context = await app.resumer.resume(ALICE)  # before the worker has ended that session
    assert context.mode is Mode.PRIMED
    journal = next(b for b in context.blocks if b.title == "Earlier, from the journal")
    assert len(journal.items) == 2, "both ended sessions, each under the version's cite"
    assert all(i.cite == "journal:v2" and "stripe" in i.text.lower() for i in journal.items)


async def test_two_days_later_memories_are_recalled_by_topic_and_message(
    app: Container,
) -> None:
    await converse(app)
    app.clock.advance(days=2)  # type: ignore[attr-defined]
    await app.worker.tick()
    context = await app.resumer.resume(ALICE, "what did we decide about idempotency?")
    assert context.mode is Mode.PRIMED
    memories = next(b for b in context.blocks if b.title == "Relevant memories")
    assert any("idempotency" in item.text for item in memories.items)


async def test_twenty_days_later_it_starts_fresh_with_aged_memories(app: Container) -> None:
    await converse(app)
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    await app.worker.tick()
    app.clock.advance(days=19)  # type: ignore[attr-defined]
    context = await app.resumer.resume(ALICE, "help me with Stripe webhooks again")
    assert context.mode is Mode.FRESH and not context.continues_session
    assert [b.title for b in context.blocks] == ["About the user", "Relevant memories"]
    memories = context.blocks[1].items
    assert memories and all("days old" in item.text for item in memories)
    assert not any("possibly outdated" in item.text for item in memories)
    assert context.greeting == "Good to see you again! What would you like to do today?"


async def test_sixty_days_later_old_memories_are_flagged(app: Container) -> None:
    await converse(app)
    await app.tenants.set_resumption("acme", {"outdated_after_s": 30 * 86_400})
    app.clock.advance(days=60)  # type: ignore[attr-defined]
    await app.worker.tick()
    context = await app.resumer.resume(ALICE, "Stripe webhooks")
    assert context.mode is Mode.FRESH
    memories = next(b for b in context.blocks if b.title == "Relevant memories")
    assert memories.items and all("possibly outdated" in i.text for i in memories.items)


async def test_a_tenant_override_changes_the_mode(app: Container) -> None:
    await converse(app)
    app.clock.advance(minutes=30)  # type: ignore[attr-defined]
    assert (await app.resumer.resume(ALICE)).mode is Mode.FULL_RESTORE
    await app.tenants.set_resumption("acme", {"full_restore_max_gap_s": 600})
    assert (await app.resumer.resume(ALICE)).mode is Mode.PRIMED


async def test_a_new_user_gets_no_greeting(app: Container) -> None:
    context = await app.resumer.resume(Scope("acme", "newcomer"), "hello")
    assert (context.mode, context.greeting) == (Mode.FRESH, None)
    assert context.tokens <= 1500


@pytest.mark.parametrize("budget", [60, 120, 400, 1500])
async def test_the_budget_is_never_exceeded_even_with_huge_memories(
    app: Container, budget: int
) -> None:
    await converse(app)
    huge = "Stripe webhook notes: " + "retry with exponential backoff and jitter. " * 700
    for i in range(3):
        await app.facts.insert(ALICE, "event", f"{i}: {huge}")
    await app.worker.embed()
    for gap in (timedelta(minutes=5), timedelta(hours=3), timedelta(days=30)):
        app.clock.advance(seconds=gap.total_seconds())  # type: ignore[attr-defined]
        await app.worker.tick()
        context = await app.resumer.resume(ALICE, huge[:3000], budget_tokens=budget)
        assert context.tokens == message_tokens(context.messages) <= budget
        assert context.messages[0]["role"] == "system"


async def test_another_active_device_is_reported_never_taken(app: Container) -> None:
    sid = await converse(app, device="phone")
    app.clock.advance(minutes=3)  # type: ignore[attr-defined]
    context = await app.resumer.resume(ALICE, "hi", device_id="laptop")
    assert context.other_device is not None
    assert (context.other_device.device_id, context.other_device.session_id) == ("phone", sid)
    assert "Offer to continue here" in rendered(context.messages)
    assert (await app.sessions.state(ALICE, sid)).device_id == "phone"


async def test_another_tenants_user_never_appears(app: Container) -> None:
    await converse(app, Scope("globex", "alice"))
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    await app.worker.tick()
    context = await app.resumer.resume(ALICE, "Stripe API integration idempotency")
    assert (context.mode, context.restored, context.blocks) == (Mode.FRESH, (), ())
    assert "Stripe" not in rendered(context.messages)


async def test_a_fresh_start_without_a_message_knows_who_the_user_is(app: Container) -> None:
    """The profile (core memory) is in every mode: three weeks later, before the user has
    said anything, the context still has their name, city, work and health constraint."""
    sid = uuid.uuid4()
    for content in (
        "Hi, I'm Marta. I live in Lisbon and I work as a product manager.",
        "I'm allergic to peanuts, so keep that in mind for recipes.",
        "My dog Bruno loves the beach.",
    ):
        await app.sessions.append(ALICE, sid, "user", content)
        app.clock.advance(minutes=1)  # type: ignore[attr-defined]
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()
    app.clock.advance(days=21)  # type: ignore[attr-defined]
    context = await app.resumer.resume(ALICE)
    assert context.mode is Mode.FRESH
    about = next(b for b in context.blocks if b.title == "About the user")
    text = " ".join(i.text for i in about.items)
    for known in ("Lisbon", "product manager", "peanuts", "Bruno"):
        assert known in text, (known, text)
    assert "About the user" in rendered(context.messages)
