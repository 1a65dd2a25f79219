"""How the user talks: running figures from their own messages, older sessions weighing
less, described in one line of the context block."""

import uuid
from datetime import UTC, datetime

from memory.core.domain import Role, Scope
from memory.core.records import Message, UserStyle
from reflection.style import updated
from resume.profile import described
from service.container import Container

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def said(*lines: str) -> list[Message]:
    return [
        Message(
            id=uuid.uuid4(),
            scope=Scope("acme", "ana"),
            session_id=uuid.uuid4(),
            seq=n,
            role=Role.USER,
            content=line,
            idempotency_key=str(uuid.uuid4()),
            created_at=AT,
            archived_at=None,
            device_id=None,
        )
        for n, line in enumerate(lines, start=1)
    ]


def test_a_terse_technical_casual_user() -> None:
    style = updated(
        UserStyle(),
        said("hey, webhook retries broke again lol", "api returns 500 on deploy", "cool thx!!"),
        ["webhooks", "deploy"],
    )
    assert style.messages == 3 and style.words_per_message < 12
    assert style.formality < 0.35 and style.technical >= 0.3
    line = described(style)
    assert line is not None
    assert "briefly" in line and "casually" in line and "technical" in line
    assert "webhooks" in line


def test_older_sessions_weigh_less() -> None:
    upset = updated(UserStyle(), said("I'm so frustrated and tired of this."), [])
    assert upset.tone < 0
    happier = updated(upset, said("Thanks, this is great, I love it!"), [])
    assert upset.tone < happier.tone < 1.0
    assert described(UserStyle()) is None


async def test_the_worker_keeps_it_and_every_context_says_it(app: Container) -> None:
    ana = Scope("acme", "ana")
    sid = uuid.uuid4()
    for line in ("Could you please help me draft a formal letter?", "Thank you kindly."):
        await app.sessions.append(ana, sid, "user", line)
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()
    context = await app.resumer.resume(ana)
    about = next(b for b in context.blocks if b.title == "About the user")
    manner = [i for i in about.items if i.cite == "user:style"]
    assert manner and "formally" in manner[0].text
