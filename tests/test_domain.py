"""Pure checks of the domain values: bad input becomes a typed error naming the field."""

import uuid
from datetime import UTC, datetime

import pytest

from memory.core import domain
from memory.core.domain import Role, Scope, normalized_hash
from memory.core.errors import InvalidInput
from memory.core.sql import vector_literal


@pytest.mark.parametrize("bad", ["", " ", "a b", "x" * 129, "-lead", "ä", None, 7])
def test_scope_rejects_malformed_ids(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        Scope("acme", bad)  # type: ignore[arg-type]
    assert err.value.field == "user_id"


def test_scope_accepts_email_like_and_namespaced_ids() -> None:
    assert Scope("acme-prod", "alice@example.com").user_id == "alice@example.com"
    assert Scope("t1", "crm:42").user_id == "crm:42"


@pytest.mark.parametrize("bad", ["", "   \n\t", "x" * 33, "nul\x00byte", 5])
def test_content_rejects_blank_oversized_and_non_text(bad: object) -> None:
    with pytest.raises(InvalidInput, match="content"):
        domain.content(bad, "content", 32)


def test_content_keeps_text_unchanged() -> None:
    assert domain.content("  hi  ", "content", 32) == "  hi  "


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        domain.aware(datetime(2026, 1, 1), "at")
    assert domain.aware(datetime(2026, 1, 1, tzinfo=UTC), "at").tzinfo is UTC


def test_unknown_role_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput, match="user, assistant, system, tool"):
        domain.role("robot")
    assert domain.role("assistant") is Role.ASSISTANT


def test_malformed_uuid_is_refused() -> None:
    with pytest.raises(InvalidInput, match="session_id"):
        domain.parse_uuid("not-a-uuid", "session_id")
    value = uuid.uuid4()
    assert domain.parse_uuid(str(value), "id") == value
    with pytest.raises(InvalidInput):
        domain.parse_uuids("abc", "ids")


def test_normalized_hash_ignores_case_spacing_and_final_punctuation() -> None:
    assert normalized_hash("Likes  green tea.") == normalized_hash("likes green tea")
    assert normalized_hash("likes green tea") != normalized_hash("likes black tea")


def test_vector_literal_is_pgvector_text() -> None:
    assert vector_literal([1, 0.5]) == "[1.0,0.5]"
    assert vector_literal(None) is None
