"""The kinds no pattern names: cues of time and habit (a statement anchored ahead is a plan,
one about a time gone by is an event, one that says how often is a habit), and the nearest
labelled examples, through the real packaged embedder."""

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memory.core.domain import FactKind, Role
from memory.core.records import Message
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.infra.llm import Usage
from reflection.extraction import RuleExtractor
from reflection.kinds import EXAMPLES, KindReader, load_examples
from reflection.rules.cues import cue
from tests.test_observations import said as observed_message

SAID_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("The wedding is March 22nd, a small ceremony at a vineyard", FactKind.PLAN),
        ("dentist Thursday, Kai's party Saturday", FactKind.PLAN),
        ("still on for Chicago in October, not giving up", FactKind.PLAN),
        ("someone rear-ended me at a roundabout in Galway yesterday", FactKind.EVENT),
        ("he had a fall in October and broke his wrist, which is when we knew", FactKind.EVENT),
        ("I bake every weekend, it's my therapy", FactKind.PREFERENCE),
        ("I'd rather keep my thursday evenings for life drawing", FactKind.PREFERENCE),
        ("going to the gym like three times a week, I'm obsessed", FactKind.PREFERENCE),
    ],
)
def test_time_and_habit_give_a_statement_its_kind(sentence: str, kind: FactKind) -> None:
    found = cue(sentence, SAID_AT)
    assert found is not None and found.kind is kind


def test_a_plan_knows_when_it_takes_place() -> None:
    found = cue("The wedding is March 22nd", SAID_AT)
    assert found is not None and found.occurs_at is not None
    assert (found.occurs_at.month, found.occurs_at.day) == (3, 22)


@pytest.mark.parametrize(
    "sentence",
    [
        "Morning! Absolutely grim out there today",  # the day itself is no plan
        "is the dentist open on Thursday?",  # a question
        "can u help me remember whats on this week",  # a request without its mark
        "if we go in October it'll be cheaper",  # a supposition
        "the GP put me on iron tablets, ferrous sulfate once a day",  # a dose, not a habit
        "It rained all day yesterday and the roads flooded",  # nobody's own
    ],
)
def test_no_kind_without_a_cue_of_the_users_own(sentence: str) -> None:
    assert cue(sentence, SAID_AT) is None


def test_the_shipped_examples_cover_every_kind_they_name() -> None:
    pairs = load_examples()
    labels = {label for label, _ in pairs}
    assert labels == {"profile", "preference", "relation", "event", "decision", "plan", "none"}
    assert all(sentence.strip() for _, sentence in pairs)


def test_examples_with_an_unknown_label_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "examples.json"
    path.write_text(json.dumps({"mood": ["so happy today"]}))
    with pytest.raises(ValueError, match="mood"):
        load_examples(path)


async def test_nearest_examples_type_a_statement_and_leave_chatter_alone(
    embedder: SentenceTransformerEmbedder,
) -> None:
    reader = KindReader(embedder, EXAMPLES)
    kinds = await reader.kinds(
        [
            "I'm allergic to penicillin, found out the hard way",
            "haha ok that's brilliant, thanks",
        ]
    )
    assert kinds == [FactKind.PROFILE, None]


def said(role: Role, content: str) -> Message:
    return replace(observed_message(role, content), created_at=SAID_AT)


async def test_the_rule_extractor_types_what_its_patterns_missed(
    embedder: SentenceTransformerEmbedder,
) -> None:
    messages = [
        said(Role.USER, "The wedding is March 22nd, a small ceremony outside Stellenbosch."),
        said(Role.ASSISTANT, "The wedding is March 22nd, you said, at a vineyard outside town."),
        said(Role.USER, "Scandinavian crime is my comfort genre, I never get tired of it."),
    ]
    found = await RuleExtractor(kinds=KindReader(embedder)).extract(messages, Usage())
    kinds = {c.text: c.kind for c in found}
    wedding = next(c for c in found if c.text.startswith("The wedding") and c.by_user)
    assert wedding.kind is FactKind.PLAN and wedding.occurs_at is not None
    assert FactKind.PREFERENCE in {k for t, k in kinds.items() if "Scandinavian" in t}
    # The assistant's words are never a fact about the user: they stay an observation.
    assert all(c.kind is FactKind.OBSERVATION for c in found if not c.by_user)
