"""Domain values every tier shares: the scope that bounds every read and write, the closed
vocabularies (roles, fact kinds, tiers), the clock, and the checks that turn bad input into
`InvalidInput` before anything is written."""

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from memory.core.errors import InvalidInput

Clock = Callable[[], datetime]
_E = TypeVar("_E", bound=StrEnum)

_EXTERNAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


def system_clock() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class SessionStatus(StrEnum):
    """Where a session is in its life; only `memory.stores.session_rows` moves it on."""

    ACTIVE = "active"
    SOFT_EXPIRED = "soft_expired"  # idle, still fully restorable
    HARD_EXPIRED = "hard_expired"  # ended: to be summarized and archived
    ARCHIVED = "archived"  # summarized; its raw messages age out after the retention window


class FactKind(StrEnum):
    PREFERENCE = "preference"
    PROFILE = "profile"
    RELATION = "relation"
    EVENT = "event"
    DECISION = "decision"
    PLAN = "plan"
    OPEN_QUESTION = "open_question"
    # One informative statement of either speaker, in the third person, dates resolved:
    # the memory that outlives the transcript (see reflection/observations.py).
    OBSERVATION = "observation"


# The typed facts: what a profile, a summary, a journal or a synthesis is made of.
TYPED_KINDS = tuple(kind for kind in FactKind if kind is not FactKind.OBSERVATION)


class Tier(StrEnum):
    RAW = "raw"
    FACTS = "facts"
    KNOWLEDGE = "knowledge"
    SUMMARIES = "summaries"


def external_id(value: object, field: str) -> str:
    """A tenant-local id chosen by the caller: 1-128 of letters, digits and `._:@-`."""
    if not isinstance(value, str) or not _EXTERNAL_ID.fullmatch(value):
        raise InvalidInput(
            field, "must be 1-128 characters of letters, digits and ._:@- starting alnum"
        )
    return value


@dataclass(frozen=True, slots=True)
class Scope:
    """One user of one tenant; every store method takes it first."""

    tenant_id: str
    user_id: str

    def __post_init__(self) -> None:
        external_id(self.tenant_id, "tenant_id")
        external_id(self.user_id, "user_id")


def parse_uuid(value: object, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidInput(field, f"is not a valid UUID: {value!r:.60}")


def parse_uuids(values: object, field: str) -> list[uuid.UUID]:
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise InvalidInput(field, "must be a list of UUIDs")
    return [parse_uuid(v, field) for v in values]


def limit(value: object, maximum: int, field: str = "limit") -> int:
    """A page size: an integer from 1 to `maximum`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(field, f"must be between 1 and {maximum}")
    return value


def aware(value: object, field: str) -> datetime:
    """A timezone-aware datetime; a naive one is ambiguous and refused."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "must be timezone-aware (naive datetimes are ambiguous)")
    return value


EARLIEST_EVENT = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SKEW = timedelta(days=1)


def event_time(value: object, field: str, now: datetime) -> datetime:
    """When something was said: timezone-aware, not before 1970 and not more than a day
    ahead of the service's clock (imports of old chats are fine; year 9999 is not)."""
    when = aware(value, field)
    if when < EARLIEST_EVENT:
        raise InvalidInput(field, "must not be before 1970-01-01")
    if when > now + FUTURE_SKEW:
        raise InvalidInput(field, "must not be more than a day in the future")
    return when


def content(value: object, field: str, max_chars: int) -> str:
    """Non-blank text of at most `max_chars` characters, without NUL (Postgres refuses it)."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if not value.strip():
        raise InvalidInput(field, "must not be empty or whitespace only")
    if len(value) > max_chars:
        raise InvalidInput(field, f"is {len(value)} characters; the maximum is {max_chars}")
    return storable(value, field)


def storable(value: str, field: str) -> str:
    """Text Postgres can store: no NUL (it refuses it) and no lone surrogates."""
    if "\x00" in value:
        raise InvalidInput(field, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(field, "must be valid Unicode (no lone surrogates)") from None
    return value


def _member(vocabulary: type[_E], value: object, field: str) -> _E:
    try:
        return vocabulary(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in vocabulary)
        raise InvalidInput(
            field, f"unknown {field} {value!r:.40}; expected one of {allowed}"
        ) from None


def role(value: object) -> Role:
    return _member(Role, value, "role")


def fact_kind(value: object) -> FactKind:
    return _member(FactKind, value, "kind")


def unit_interval(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(field, "must be a number between 0 and 1")
    return float(value)


_PUNCTUATION = re.compile(r"[\s.!?;:,]+$")
_SPACES = re.compile(r"\s+")


def normalized_hash(statement: str) -> str:
    """A fact's identity as text: case, spacing and trailing punctuation do not make a fact
    different."""
    normal = _PUNCTUATION.sub("", _SPACES.sub(" ", statement.strip().lower()))
    return hashlib.sha256(normal.encode()).hexdigest()
