"""Open-question rules: what the user asked that is still open — a question with no reply, a
reply that did not know or only asked back, or one the user said they still have to think
about — and what they said they cannot decide ("still not sure whether to lease or buy")."""

import re
from collections.abc import Iterator, Sequence

from memory.core.domain import FactKind, Role
from memory.core.records import Message
from reflection.rules.base import SENTENCE, RuleFact, clean

_UNSURE = re.compile(
    r"\b(?:i don't know|i do not know|not sure|i can't|i cannot|no idea|hard to say"
    r"|difficult to say|it depends|depends on|worth asking|check with|i'm not certain"
    r"|not confident|rather not guess|can't (?:really )?tell|cannot tell|don't have reliable"
    r"|don't want to (?:give you|put a number|guess)|can't say|cannot say|not able to say"
    r"|your (?:gp|doctor|vet|pharmacist|accountant|lawyer|solicitor) (?:should|can|could|will)"
    r"|i'm not (?:really )?(?:sure|the best)|beyond what i can)\b",
    re.IGNORECASE,
)
_STILL_OPEN = re.compile(
    r"\b(?:i'll|i will|i need to|i have to|i should|let me|i must|i'd better|we'll|we need to)"
    r"(?: have to)? (?:think (?:about it|it over|more|some more)|sleep on it|mull it over"
    r"|decide later)|\bstill (?:not sure|undecided|don't know|can't decide)\b",
    re.IGNORECASE,
)
_WONDER = re.compile(
    r"\b(?:not sure|unsure|undecided|don't know|do not know|can't decide|cannot decide"
    r"|can't work out|can't figure out|haven't (?:yet )?(?:worked out|figured out|decided)"
    r"|don't get|going back and forth on|wondering|torn on)\b[^.;!?]{0,40}?"
    r"\b(?P<x>(?:whether|if (?:i|we) should|which|how to|what to|where to|when to)\b"
    r"[^.;!?]{3,150})",
    re.IGNORECASE,
)
_MIN_WORDS = 4  # "another one?", "a towel?": not questions worth keeping
_MAX_QUESTION_CHARS = 300  # every other fact is bounded by its pattern's captures


def open_questions(messages: Sequence[Message]) -> Iterator[RuleFact]:
    """The open questions of `messages`, in message order."""
    replies = _next_of(messages, Role.ASSISTANT)
    users = _next_of(messages, Role.USER)
    for index, message in enumerate(messages):
        if message.role is not Role.USER:
            continue
        yield from _wondered(message)
        if "?" in message.content and _left_open(messages, index, replies, users):
            yield from _asked(message)


def _next_of(messages: Sequence[Message], role: Role) -> list[int | None]:
    """For each message, the index of the next message of `role` after it (one pass)."""
    found: list[int | None] = [None] * len(messages)
    upcoming: int | None = None
    for index in range(len(messages) - 1, -1, -1):
        found[index] = upcoming
        if messages[index].role is role:
            upcoming = index
    return found


def _left_open(
    messages: Sequence[Message],
    index: int,
    replies: list[int | None],
    users: list[int | None],
) -> bool:
    """No reply; a reply that did not know; a reply that only asked back, with no answer
    after the user's answer to it; or a user who then says they must think about it."""
    reply = replies[index]
    if reply is not None and _only_questions(messages[reply].content):
        answered = users[reply]
        reply = replies[answered] if answered is not None else None
    if reply is None:
        return True
    said = messages[reply].content
    if _UNSURE.search(said) or _only_questions(said):
        return True
    after = users[reply]
    return after is not None and _STILL_OPEN.search(messages[after].content) is not None


def _only_questions(text: str) -> bool:
    sentences = [s.strip() for s in SENTENCE.split(text) if s.strip()]
    return bool(sentences) and all(s.endswith("?") for s in sentences)


def _asked(message: Message) -> Iterator[RuleFact]:
    questions = [s.strip() for s in SENTENCE.split(message.content) if s.strip().endswith("?")]
    for question in questions[-1:]:
        if len(question.split()) >= _MIN_WORDS:
            text = _shortened(question)  # the question itself; its kind says it is open
            yield RuleFact(FactKind.OPEN_QUESTION, text, None, 0.5, 0.6, message)


def _wondered(message: Message) -> Iterator[RuleFact]:
    for found in _WONDER.finditer(message.content.replace("\u2019", "'")):
        question = clean(found.group("x"))
        if len(question.split()) >= _MIN_WORDS - 1:
            text = f"Not sure {question}"
            yield RuleFact(FactKind.OPEN_QUESTION, text, None, 0.5, 0.6, message)


def _shortened(question: str) -> str:
    if len(question) <= _MAX_QUESTION_CHARS:
        return question
    return question[: _MAX_QUESTION_CHARS - 2].rstrip() + " …?"
