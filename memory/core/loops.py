"""Open loops live and die: which plans and open questions are still open at a time. A plan
with a date is live until the day after it, then past; a past plan is worth one follow-up
("how did it go?") only while the user has not been back since. A plan or question with no
date stops being an open loop after `LOOP_LIFETIME`. A question that was answered has been
closed (its `valid_to` set) and is not current at all. Pure functions."""

from datetime import datetime, timedelta

from memory.core.domain import FactKind
from memory.core.records import Fact

LOOP_KINDS = (FactKind.PLAN, FactKind.OPEN_QUESTION)
PAST_AFTER = timedelta(days=1)  # a plan for today is still live tonight
LOOP_LIFETIME = timedelta(days=30)
FOLLOW_UP_WITHIN = timedelta(days=14)


def _current(fact: Fact) -> bool:
    return fact.valid_to is None and fact.superseded_by is None


def is_live(fact: Fact, now: datetime) -> bool:
    """Still an open loop at `now`."""
    if fact.kind not in LOOP_KINDS or not _current(fact):
        return False
    if fact.occurs_at is not None:
        return now < fact.occurs_at + PAST_AFTER
    return now - fact.valid_from < LOOP_LIFETIME


def to_follow_up(fact: Fact, now: datetime, last_seen: datetime | None) -> bool:
    """A plan that has just taken place, and the user has not been back since: the one
    moment to ask how it went."""
    if fact.kind is not FactKind.PLAN or not _current(fact) or fact.occurs_at is None:
        return False
    happened = fact.occurs_at + PAST_AFTER
    return (
        happened <= now
        and now - happened < FOLLOW_UP_WITHIN
        and (last_seen is None or last_seen < happened)
    )
