"""Rule-based extraction on hand-written dialogues: what the user says about themselves
becomes facts of the right kind, with attributes that let contradictions supersede."""

import uuid
from datetime import UTC, datetime, timedelta

from memory.domain import FactKind, Role, Scope
from memory.records import Message
from reflection.rules import MAX_FACTS_SCANNED, extract_rules

SAID = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def dialogue(*turns: tuple[str, str]) -> list[Message]:
    session = uuid.uuid4()
    return [
        Message(
            uuid.uuid4(),
            Scope("t", "u"),
            session,
            i + 1,
            Role(role),
            text,
            f"k{i}",
            SAID + timedelta(minutes=i),
        )
        for i, (role, text) in enumerate(turns)
    ]


def found(messages: list[Message]) -> set[tuple[FactKind, str, str | None]]:
    return {(f.kind, f.text, f.attribute) for f in extract_rules(messages)}


def test_self_descriptions_become_profile_and_relation_facts() -> None:
    facts = found(
        dialogue(
            ("user", "Hi, my name is Ana. I work as a pediatric nurse and I live in Porto."),
            ("assistant", "Nice to meet you!"),
            ("user", "My daughter Mia is six, and my dog Rex hates the rain."),
        )
    )
    assert (FactKind.PROFILE, "Is named Ana", "name") in facts
    assert (FactKind.PROFILE, "Works as a pediatric nurse", "occupation") in facts
    assert (FactKind.PROFILE, "Lives in Porto", "residence") in facts
    assert (FactKind.RELATION, "Has a daughter named Mia", "relation:daughter:mia") in facts
    assert (FactKind.RELATION, "Has a dog named Rex", "relation:dog:rex") in facts


def test_casual_i_am_phrases_are_not_occupations() -> None:
    facts = found(dialogue(("user", "I'm a bit tired, and I'm a big fan of jazz.")))
    assert not any(attribute == "occupation" for _, _, attribute in facts)


def test_likes_and_dislikes_share_an_attribute() -> None:
    before = found(dialogue(("user", "I really love hiking and I like coffee a lot.")))
    after = found(dialogue(("user", "I don't like coffee anymore.")))
    assert (FactKind.PREFERENCE, "Likes hiking", "preference:hiking") in before
    assert (FactKind.PREFERENCE, "Likes coffee", "preference:coffee") in before
    assert after == {(FactKind.PREFERENCE, "Dislikes coffee", "preference:coffee")}


def test_plans_carry_resolved_dates_and_decisions_their_day() -> None:
    facts = found(
        dialogue(
            ("user", "I'm planning to visit my parents on Friday. We decided to sell the old car."),
        )
    )
    plan = next(text for kind, text, _ in facts if kind is FactKind.PLAN)
    assert plan.startswith("Plans to visit their parents")
    assert "around 2026-03-06" in plan  # the Friday after Monday 2 March
    assert (FactKind.DECISION, "Decided: sell the old car (2026-03-02)", None) in facts


def test_unanswered_questions_become_open_loops() -> None:
    answered = found(
        dialogue(
            ("user", "What is the capital of Peru?"),
            ("assistant", "Lima."),
        )
    )
    assert not any(kind is FactKind.OPEN_QUESTION for kind, _, _ in answered)
    unanswered = found(
        dialogue(
            ("user", "Should I renew my passport before the trip?"),
            ("assistant", "I'm not sure, it depends on the country."),
        )
    )
    assert (
        FactKind.OPEN_QUESTION,
        "Asked, still open: Should I renew my passport before the trip?",
        None,
    ) in unanswered
    trailing = found(dialogue(("assistant", "Anything else?"), ("user", "Can you remind me?")))
    assert any(kind is FactKind.OPEN_QUESTION for kind, _, _ in trailing)


def test_the_assistant_never_becomes_the_user() -> None:
    facts = found(dialogue(("assistant", "I live in the cloud and I love helping.")))
    assert facts == set()


def test_a_message_stops_being_scanned_after_the_bound() -> None:
    flood = dialogue(("user", " ".join(f"I like thing{i}." for i in range(MAX_FACTS_SCANNED + 50))))
    assert len(extract_rules(flood)) == MAX_FACTS_SCANNED
    assert len(extract_rules(flood, per_message=5)) == 5


def test_captured_places_and_names_have_a_bounded_length() -> None:
    said = "I live in " + "York " * 2000 + "now. My dog R" + "a" * 500 + "."
    assert found(dialogue(("user", said))) == {
        (FactKind.PROFILE, "Lives in York York York York York York", "residence")
    }


def test_a_very_long_open_question_is_shortened() -> None:
    facts = found(dialogue(("user", "Could you " + "please " * 5000 + "help?")))
    ((kind, text, _),) = facts
    assert kind is FactKind.OPEN_QUESTION and len(text) < 400 and text.endswith(" …?")
