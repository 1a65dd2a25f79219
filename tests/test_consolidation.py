"""The pure decisions of reflection: consolidation of candidate facts, the journal's size
budget, and the reconciliation of drafted insights with the knowledge already there."""

import uuid
from datetime import UTC, datetime, timedelta

from memory.core.domain import FactKind, Scope
from memory.core.records import Fact, JournalSection, Knowledge, SectionKind
from memory.stores.journal import render
from reflection.consolidation import decide
from reflection.digest import Digest
from reflection.extraction import Candidate
from reflection.journal import compose
from reflection.synthesis import Draft, offline_inputs, reconcile

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCOPE = Scope("t", "u")


def fact(
    text: str, kind: FactKind = FactKind.PROFILE, attribute: str | None = None, at: datetime = T0
) -> Fact:
    return Fact(uuid.uuid4(), SCOPE, kind, text, 0.5, 1.0, attribute, at, None, None, at)


def candidate(
    text: str,
    kind: FactKind = FactKind.PROFILE,
    attribute: str | None = None,
    at: datetime = T0 + timedelta(days=1),
) -> Candidate:
    return Candidate(kind, text, 0.5, 0.8, attribute, at, (uuid.uuid4(),))


def test_the_same_statement_merges() -> None:
    known = fact("Lives in Porto", attribute="residence")
    decision = decide(candidate("lives in porto.", attribute="residence"), [known], [])
    assert (decision.action, decision.target) == ("merge", known.id)


def test_a_new_value_for_the_same_attribute_supersedes() -> None:
    known = fact("Lives in Porto", attribute="residence")
    decision = decide(candidate("Lives in Lisbon", attribute="residence"), [known], [(known, 0.93)])
    assert (decision.action, decision.target) == ("supersede", known.id)


def test_an_older_value_never_supersedes_a_newer_one() -> None:
    known = fact("Lives in Lisbon", attribute="residence", at=T0 + timedelta(days=10))
    decision = decide(candidate("Lives in Porto", attribute="residence"), [known], [])
    assert decision.action == "skip"


def test_near_duplicates_of_the_same_kind_merge() -> None:
    known = fact("Loves hiking in the mountains", FactKind.PREFERENCE)
    near = candidate("Really loves mountain hiking", FactKind.PREFERENCE)
    assert decide(near, [], [(known, 0.95)]).action == "merge"
    assert decide(near, [], [(known, 0.7)]).action == "insert"
    other_kind = candidate("Really loves mountain hiking", FactKind.PLAN)
    assert decide(other_kind, [], [(known, 0.95)]).action == "insert"


def test_a_statement_that_says_it_changed_revises_the_closest_fact_of_its_kind() -> None:
    surgery = fact("The user's ACL surgery is on the 2nd of February.", FactKind.PLAN)
    moved = candidate("Update: surgery got moved up, it's now the 19th of January.", FactKind.PLAN)
    decision = decide(moved, [], [(surgery, 0.72)])
    assert (decision.action, decision.target) == ("supersede", surgery.id)
    # Without a word that says it changed, or far in meaning, or of another kind: new.
    again = candidate("The user is nervous about the surgery in January.", FactKind.PLAN)
    assert decide(again, [], [(surgery, 0.72)]).action == "insert"
    assert decide(moved, [], [(surgery, 0.4)]).action == "insert"
    assert decide(moved, [], [(fact(surgery.text, FactKind.EVENT), 0.72)]).action == "insert"
    # A pattern's fact with an attribute changes by its attribute, never by this reading.
    typed = candidate("Lives in Kinsale now", attribute="residence")
    assert decide(typed, [], [(fact("Lives in Cork"), 0.8)]).action == "insert"


def test_offline_synthesis_builds_on_what_the_patterns_read() -> None:
    read = fact("Has a dog named Bruno", FactKind.RELATION)
    typed_by_cue = Fact(
        uuid.uuid4(),
        SCOPE,
        FactKind.EVENT,
        "The user's dog Bruno kept the user up all night.",
        0.5,
        0.55,
        None,
        T0,
        None,
        None,
        T0,
        restates=True,
    )
    assert offline_inputs([read, typed_by_cue]) == [read]


def digest_of(day: int) -> Digest:
    return Digest(f"Session {day} " + "x" * 200, (f"topic{day}",), (), ())


def test_the_journal_keeps_recent_sessions_in_detail_and_stays_within_budget() -> None:
    sections: list[JournalSection] = []
    for day in range(40):
        at = T0 + timedelta(days=day)
        sections = compose(sections, digest_of(day), at, uuid.uuid4(), ["Plans to move"], 3000)
        assert len(render(sections)) <= 3000
    kinds = [s.kind for s in sections]
    assert kinds[0] is SectionKind.NOW and sections[0].items == ("Plans to move",)
    sessions = [s for s in sections if s.kind is SectionKind.SESSION]
    assert sessions[0].title.startswith("2026-02-09")  # the newest first
    assert len(sessions) <= 6 and SectionKind.EARLIER in kinds, "older ones: a line each"
    assert "## Now\n- Plans to move" in render(sections)


def test_reconcile_keeps_revises_adds_and_retires() -> None:
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    kept = Knowledge(uuid.uuid4(), SCOPE, uuid.uuid4(), 1, "same", 0.5, T0, None, (a, b))
    changed = Knowledge(uuid.uuid4(), SCOPE, uuid.uuid4(), 1, "old", 0.5, T0, None, (c, d))
    gone = Knowledge(
        uuid.uuid4(), SCOPE, uuid.uuid4(), 1, "gone", 0.5, T0, None, (uuid.uuid4(), uuid.uuid4())
    )
    drafts = [
        Draft("same", frozenset({a, b}), 0.5),
        Draft("new text", frozenset({c, d}), 0.5),
        Draft("brand new", frozenset({uuid.uuid4(), uuid.uuid4()}), 0.5),
    ]
    plan = reconcile([kept, changed, gone], drafts)
    assert [d.text for d in plan.add] == ["brand new"]
    assert [(k, d.text) for k, d in plan.revise] == [(changed.id, "new text")]
    assert plan.retire == [gone.id]
