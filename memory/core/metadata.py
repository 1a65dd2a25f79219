"""What a caller may attach and filter on: free-form JSON metadata on users, sessions and
messages, bounded in size and depth, and the name of a conversation thread.

Metadata is the caller's: memstrata stores it, returns it and filters on it by containment
(a filter `{"app": "mobile"}` matches metadata that has that key with that value, whatever
else it holds). It is not encrypted at rest, so it is for labels, not for content."""

import json
import math
from typing import Any

from memory.core.domain import storable
from memory.core.errors import InvalidInput

MAX_METADATA_BYTES = 4096  # the object as compact UTF-8 JSON
MAX_METADATA_DEPTH = 5  # nested objects and lists
DEFAULT_THREAD = "main"

Metadata = dict[str, Any]


def metadata(value: object, field: str = "metadata") -> Metadata:
    """A JSON object of at most `MAX_METADATA_BYTES`, nested at most `MAX_METADATA_DEPTH`
    deep, with finite numbers and no NUL characters (Postgres's `jsonb` refuses `\\u0000`)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(field, "must be a JSON object")
    _check(value, field, 1)
    size = len(encoded(value).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidInput(field, f"is {size} bytes as JSON; the maximum is {MAX_METADATA_BYTES}")
    return value


def metadata_filter(value: object, field: str = "metadata") -> Metadata | None:
    """A containment filter: an object (or its JSON text, as a query parameter carries it);
    None or an empty object filters nothing."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidInput(field, 'must be a JSON object, e.g. {"app": "mobile"}') from None
    found = metadata(value, field)
    return found or None


MAX_THREAD_CHARS = 128


def thread(value: object, field: str = "thread") -> str:
    """A thread's name, as a caller or a framework chooses it ("main", "conversation_123",
    "Trip to Japan"): 1-128 characters, not blank, no control characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_THREAD_CHARS:
        raise InvalidInput(field, f"must be 1-{MAX_THREAD_CHARS} characters, not blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(field, "must not contain control characters")
    return storable(value, field)


def encoded(value: Metadata) -> str:
    """Compact JSON, as bound to a `CAST(:x AS jsonb)` parameter."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check(value: object, field: str, depth: int) -> None:
    """`depth` counts the objects and lists `value` is in, itself included."""
    if isinstance(value, dict | list) and depth > MAX_METADATA_DEPTH:
        raise InvalidInput(field, f"is nested more than {MAX_METADATA_DEPTH} levels deep")
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise InvalidInput(field, "keys must be strings")
        children: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        children = value
    else:
        _scalar(value, field)
        return
    for child in children:
        _check(child, field, depth + 1)


def _scalar(value: object, field: str) -> None:
    if isinstance(value, str):
        storable(value, field)
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(field, "numbers must be finite")
    elif value is not None and not isinstance(value, bool | int | float):
        raise InvalidInput(field, "must hold only JSON values")
