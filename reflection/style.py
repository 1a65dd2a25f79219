"""How the user talks: what they ask about most, how long and how formal their messages
are, how technical, and their recent tone — long-term state (`UserStyle`, kept on the
user's row) that the context block uses to answer in a way that suits them. Updated at each
session end from the user's own (redacted) messages, older sessions weighing less. Pure."""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from memory.core.domain import Role
from memory.core.records import Message, UserStyle

RECENT_WEIGHT = 0.3  # how much one new session moves the running figures
MAX_SUBJECTS = 5

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_FORMAL = re.compile(
    r"\b(please|kindly|would you|could you|thank you|regards|dear|sincerely|appreciate)\b",
    re.IGNORECASE,
)
_INFORMAL = re.compile(
    r"(\b(hey|yeah|yep|nope|gonna|wanna|lol|haha|btw|thx|cool|awesome|ok)\b|!{2,}|:\)|:D)",
    re.IGNORECASE,
)
_TECHNICAL = re.compile(
    r"\b(api|sql|database|server|deploy\w*|python|javascript|code|bug|function|endpoint|"
    r"webhook\w*|latency|query|schema|docker|kubernetes|cpu|gpu|algorithm|config\w*|"
    r"integration|backend|frontend|repository|git|json|http\w*|token\w*|model|dataset)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(great|love|happy|glad|excited|thanks|thank|awesome|amazing|good|nice|fun)\b", re.I
)
_NEGATIVE = re.compile(
    r"\b(sad|angry|upset|frustrat\w*|annoy\w*|worried|stress\w*|tired|bad|hate|awful|sick)\b",
    re.I,
)


def _share(messages: Sequence[str], pattern: re.Pattern[str]) -> float:
    return sum(1 for m in messages if pattern.search(m)) / len(messages)


def _tone(messages: Sequence[str]) -> float:
    positive = sum(len(_POSITIVE.findall(m)) for m in messages)
    negative = sum(len(_NEGATIVE.findall(m)) for m in messages)
    return 0.0 if positive + negative == 0 else (positive - negative) / (positive + negative)


def _formality(messages: Sequence[str]) -> float:
    formal = sum(len(_FORMAL.findall(m)) for m in messages)
    casual = sum(len(_INFORMAL.findall(m)) for m in messages)
    return 0.5 if formal + casual == 0 else formal / (formal + casual)


def updated(style: UserStyle, messages: Sequence[Message], topics: Sequence[str]) -> UserStyle:
    """The picture after one more session: its user messages and its topics."""
    said = [m.content for m in messages if m.role is Role.USER]
    if not said:
        return style
    weight = 1.0 if style.messages == 0 else RECENT_WEIGHT

    def blend(old: float, new: float) -> float:
        return old + weight * (new - old)

    counts = Counter(style.subject_counts)
    counts.update(topics)
    ranked = tuple(word for word, _ in counts.most_common(MAX_SUBJECTS))
    return replace(
        style,
        messages=style.messages + len(said),
        words_per_message=blend(
            style.words_per_message, sum(len(_WORD.findall(m)) for m in said) / len(said)
        ),
        questions=blend(style.questions, sum("?" in m for m in said) / len(said)),
        formality=blend(style.formality, _formality(said)),
        technical=blend(style.technical, _share(said, _TECHNICAL)),
        tone=blend(style.tone, _tone(said)),
        subjects=ranked,
        subject_counts=dict(counts.most_common(50)),
    )
