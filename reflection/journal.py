"""The journal's next version, as sections: a "Now" section with the current priorities
and open questions; below it, one section per session, newest first, older ones condensed
to a line under "Earlier" and the oldest dropped, so the journal stays within its size
budget however long the user stays. Pure functions over sections; the Markdown is
rendered by the store."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from memory.core.records import JournalSection, SectionKind
from memory.stores.journal import render
from reflection.digest import Digest

_DETAILED_SESSIONS = 4
MAX_PRIORITIES = 8


def compose(
    previous: Sequence[JournalSection],
    digest: Digest,
    ended_at: datetime,
    session_id: uuid.UUID | None,
    priorities: Sequence[str],
    budget_chars: int,
) -> list[JournalSection]:
    """The next version: this session's section on top of the earlier ones."""
    sessions = [s for s in previous if s.kind is SectionKind.SESSION]
    earlier = [item for s in previous if s.kind is SectionKind.EARLIER for item in s.items]
    notes = [s for s in previous if s.kind is SectionKind.NOTE]
    title = f"{ended_at:%Y-%m-%d} — {digest.headline or 'a conversation'}"
    sessions.insert(
        0,
        JournalSection(
            SectionKind.SESSION,
            title=title,
            body=digest.text,
            session_id=session_id,
            on=ended_at.date(),
        ),
    )
    for old in sessions[_DETAILED_SESSIONS:]:
        earlier.insert(0, old.title)
    sessions = sessions[:_DETAILED_SESSIONS]
    sections = _assembled(priorities, sessions, earlier, notes)
    while len(render(sections)) > budget_chars and (earlier or len(sessions) > 1):
        if earlier:
            earlier.pop()  # the oldest condensed line goes first
        else:
            earlier.insert(0, sessions.pop().title)
        sections = _assembled(priorities, sessions, earlier, notes)
    return sections


def _assembled(
    priorities: Sequence[str],
    sessions: Sequence[JournalSection],
    earlier: Sequence[str],
    notes: Sequence[JournalSection],
) -> list[JournalSection]:
    parts: list[JournalSection] = []
    if priorities:
        parts.append(JournalSection(SectionKind.NOW, items=tuple(priorities[:MAX_PRIORITIES])))
    parts += sessions
    if earlier:
        parts.append(JournalSection(SectionKind.EARLIER, items=tuple(earlier)))
    return parts + list(notes)
