"""The profile: who the user is now, from their current typed facts, each thing said once."""

import uuid
from datetime import UTC, datetime

from memory.core.domain import FactKind, Scope
from memory.core.records import Fact
from resume.profile import profile

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fact(
    text: str, attribute: str | None, kind: FactKind = FactKind.PROFILE, importance: float = 0.7
) -> Fact:
    return Fact(
        uuid.uuid4(),
        Scope("acme", "marta"),
        kind,
        text,
        importance,
        0.8,
        attribute,
        AT,
        None,
        None,
        AT,
    )


def test_a_line_another_line_says_in_full_is_left_out() -> None:
    name = fact("Is named Marta", "name")
    job = fact("Works as a product manager at a logistics company in Lisbon", "occupation")
    place = fact("Works in Lisbon", "workplace")
    home = fact("Lives in Porto", "residence")
    assert profile([place, job, home, name]).identity == (name, home, job)


def test_a_line_that_adds_something_stays() -> None:
    job = fact("Works as a nurse", "occupation")
    place = fact("Works in Porto", "workplace")
    assert set(profile([job, place]).identity) == {job, place}


def test_statements_typed_by_their_cues_add_a_few_lines_after_the_patterns_facts() -> None:
    name = fact("Is named Marta", "name")
    statements = [
        fact(f"The user mentioned fact number {n} about their life", None, importance=n / 10)
        for n in range(1, 9)
    ]
    identity = profile([*statements, name]).identity
    assert identity[0] == name
    assert identity[1:] == tuple(sorted(statements, key=lambda f: -f.importance)[:3])
    likes = fact("Likes running along the river", "preference:running", FactKind.PREFERENCE)
    cued = [
        fact(f"The user does thing {n} every weekend", None, FactKind.PREFERENCE, 0.9)
        for n in range(6)
    ]
    assert profile([*cued, likes]).preferences[0] == likes
