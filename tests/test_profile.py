"""The profile: who the user is now, from their current typed facts, each thing said once."""

import uuid
from datetime import UTC, datetime

from memory.core.domain import FactKind, Scope
from memory.core.records import Fact
from resume.profile import profile

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fact(text: str, attribute: str, kind: FactKind = FactKind.PROFILE) -> Fact:
    return Fact(
        uuid.uuid4(), Scope("acme", "marta"), kind, text, 0.7, 0.8, attribute, AT, None, None, AT
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
