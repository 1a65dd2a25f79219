"""The journal text: one narrative per user, rewritten at each session end. A "Now" section
carries the current priorities and open questions; below it, one dated section per session,
newest first, older ones condensed to a line and the oldest dropped, so the journal stays
within its size budget however long the user stays. Pure functions."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reflection.digest import Digest

_TITLE = "# Journal"
_NOW = "## Now"
_EARLIER = "## Earlier"
_DETAILED_SESSIONS = 6


@dataclass(frozen=True)
class Section:
    title: str
    body: str


def parse(content: str | None) -> tuple[list[Section], list[str]]:
    """The dated sections and the condensed lines of a previous version."""
    sections: list[Section] = []
    earlier: list[str] = []
    current: str | None = None
    lines: list[str] = []
    for line in [*(content or "").splitlines(), "## end"]:
        if line.startswith("## "):
            if current == _EARLIER:
                earlier.extend(entry for entry in lines if entry.startswith("- "))
            elif current is not None and current != _NOW:
                sections.append(Section(current, "\n".join(lines).strip()))
            current, lines = line, []
        elif current is not None:
            lines.append(line)
    return sections, earlier


def compose(
    previous: str | None,
    digest: Digest,
    ended_at: datetime,
    priorities: Sequence[str],
    budget_chars: int,
) -> str:
    """The next version: this session's section on top of the earlier ones."""
    sections, earlier = parse(previous)
    title = f"## {ended_at:%Y-%m-%d} — {', '.join(digest.topics[:3]) or 'conversation'}"
    sections.insert(0, Section(title, digest.text))
    for old in sections[_DETAILED_SESSIONS:]:
        earlier.insert(0, f"- {old.title[3:]}")
    sections = sections[:_DETAILED_SESSIONS]
    text = _render(sections, earlier, priorities)
    while len(text) > budget_chars and (earlier or len(sections) > 1):
        if earlier:
            earlier.pop()  # the oldest condensed line goes first
        else:
            earlier.insert(0, f"- {sections.pop().title[3:]}")
        text = _render(sections, earlier, priorities)
    return text[:budget_chars]


def _render(sections: Sequence[Section], earlier: Sequence[str], priorities: Sequence[str]) -> str:
    parts = [_TITLE, ""]
    if priorities:
        parts += [_NOW, *(f"- {p}" for p in priorities[:8]), ""]
    for section in sections:
        parts += [section.title, section.body, ""]
    if earlier:
        parts += [_EARLIER, *earlier, ""]
    return "\n".join(parts).rstrip() + "\n"
