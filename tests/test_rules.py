"""Rule-based extraction on hand-written dialogues: what the user says about themselves
becomes facts of the right kind, with attributes that let contradictions supersede."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from memory.core.domain import FactKind, Role, Scope
from memory.core.records import Message
from reflection.rules import MAX_FACTS_SCANNED, extract_rules
from reflection.rules.plans import base_form

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
    assert (FactKind.DECISION, "Decided to sell the old car (2026-03-02)", None) in facts


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
        "Should I renew my passport before the trip?",
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


def said(*texts: str) -> set[tuple[FactKind, str, str | None]]:
    """The facts of one user message per text."""
    return found(dialogue(*(("user", text) for text in texts)))


def texts(*said_texts: str) -> set[str]:
    return {text for _, text, _ in said(*said_texts)}


def test_allergies_conditions_and_diets_are_the_users_health_profile() -> None:
    facts = said(
        "I'm allergic to peanuts and shellfish, so be careful.",
        "I'm also lactose intolerant.",
        "I've had type 1 diabetes since I was twelve. I'm on an Omnipod pump.",
        "I'm vegetarian, and I can't eat gluten.",
    )
    assert (FactKind.PROFILE, "Allergic to peanuts", "allergy:peanuts") in facts
    assert (FactKind.PROFILE, "Allergic to shellfish", "allergy:shellfish") in facts
    assert (FactKind.PROFILE, "Is lactose intolerant", "intolerance:lactose") in facts
    assert (FactKind.PROFILE, "Has type 1 diabetes", "condition:diabetes") in facts
    assert (FactKind.PROFILE, "Uses an Omnipod pump", "treatment:pump") in facts
    assert (FactKind.PROFILE, "Is vegetarian", "diet") in facts
    assert (FactKind.PROFILE, "Can't eat gluten", "diet:gluten") in facts
    assert texts("I have a severe nut allergy.") == {"Allergic to nut"}
    assert texts("I'm diabetic.") == {"Has diabetes"}
    assert texts("I don't eat meat or fish.") == {"Doesn't eat meat or fish"}
    assert texts("I keep kosher.") == {"Keeps kosher"}


def test_health_denied_supposed_or_of_someone_else_is_not_the_users() -> None:
    for text in (
        "I'm not allergic to anything.",
        "My son is allergic to eggs.",
        "My sister is vegan.",
        "I'm not vegan.",
        "If I'm allergic to penicillin, is that bad.",
        "Do you think I'm allergic to cats.",
        "I can't eat anything right now.",
        "I don't eat out much.",
        "I have anxiety about the exam.",
    ):
        assert texts(text) == set(), text


def test_a_new_diet_supersedes_the_old_one() -> None:
    before, after = said("I'm vegetarian."), said("I've gone fully vegan since last month.")
    assert before == {(FactKind.PROFILE, "Is vegetarian", "diet")}
    assert after == {(FactKind.PROFILE, "Is vegan", "diet")}


def test_family_and_pets_are_named_with_their_relation() -> None:
    facts = said(
        "My wife Priya is a dentist and we have a toddler, Leo.",
        "My son Max is 7. Our cat Miso is 3 years old.",
        "We have two kids, Sam and Ava.",
        "the dog's coming too, she's a beagle called Pepper",
        "a golden retriever puppy! we're calling her Maple",
    )
    assert (FactKind.RELATION, "Has a wife named Priya", "relation:wife:priya") in facts
    assert (FactKind.RELATION, "Has a toddler named Leo", "relation:toddler:leo") in facts
    assert (
        FactKind.RELATION,
        "Has a son named Max, aged 7 (as of 2026-03-02)",
        "relation:son:max",
    ) in facts
    assert any(text.startswith("Has a cat named Miso, aged 3") for _, text, _ in facts)
    assert {"Has a child named Sam", "Has a child named Ava"} <= {t for _, t, _ in facts}
    assert (FactKind.RELATION, "Has a beagle named Pepper", "relation:beagle:pepper") in facts
    assert (FactKind.RELATION, "Has a puppy named Maple", "relation:puppy:maple") in facts


def test_where_relatives_live_and_whose_partner_is_whose() -> None:
    assert said("My parents live in Lisbon.") == {
        (FactKind.RELATION, "Their parents live in Lisbon", "relation:parents:home")
    }
    assert "Their in-laws live in Aberdeen" in texts("we drive up to my in-laws in Aberdeen")
    wedding = texts("my little sister Chloe is getting married", "her fiancé Marco is Italian")
    assert {"Has a sister named Chloe", "Chloe's fiancé is Marco"} <= wedding
    assert texts("her fiancé Marco is Italian") == set(), "whose fiancé is not known"


def test_a_name_with_an_age_is_a_child_only_once_children_were_mentioned() -> None:
    assert texts("Mia is 7 and Jonah just turned 4.") == set()
    kids = texts("a camping trip with the kids", "Mia is 7 and Jonah just turned 4.")
    assert {
        "Has a child named Mia, aged 7 (as of 2026-03-02)",
        "Has a child named Jonah, aged 4 (as of 2026-03-02)",
    } <= kids
    assert texts("We have kids. It is 5 o'clock.") == set()


def test_work_is_said_in_many_ways() -> None:
    facts = said(
        "I teach chemistry at a high school in Leeds.",
        "I'm a backend engineer at Spotify.",
        "I spent six years as a UX researcher before this.",
        "I work remotely for a bank.",
        "I play violin professionally.",
    )
    assert (
        FactKind.PROFILE,
        "Teaches chemistry at a high school in Leeds",
        "occupation",
    ) in facts
    assert (FactKind.PROFILE, "Works in Leeds", "workplace") in facts
    assert (FactKind.PROFILE, "Works as a backend engineer at Spotify", "occupation") in facts
    assert (FactKind.PROFILE, "Previously worked as a UX researcher", None) in facts
    assert (FactKind.PROFILE, "Works for a bank", "employer") in facts
    assert (FactKind.PROFILE, "Plays violin professionally", "occupation") in facts
    assert texts("I just started at Google.") == {"Works at Google (started by 2026-03-02)"}
    assert texts("I work in marketing.") == {"Works in marketing"}
    new_job = texts("I start a new job on Monday as a product manager at Lumina.")
    assert new_job == {
        "Starts a new job as a product manager at Lumina"
        " (on monday, around 2026-03-09; said 2026-03-02)"
    }


def test_what_people_call_themselves_is_not_always_a_job() -> None:
    for text in (
        "I'm a runner.",
        "I'm a terrible cook.",
        "I'm a Londoner.",
        "I'm a vegetarian.",
        "I'm a Canadian.",
        "I'm an Italian teacher.",
        "I work at the weekend.",
    ):
        assert not any(a in {"occupation", "employer"} for _, _, a in said(text)), text
    assert said("I'm a junior analyst at Deloitte.") == {
        (FactKind.PROFILE, "Works as a junior analyst at Deloitte", "occupation")
    }


def test_a_job_change_is_a_new_value_of_the_same_attribute() -> None:
    old = said("I'm a junior analyst at Deloitte.")
    new = said("I changed jobs! I'm a data analyst at the NHS now.")
    assert {a for _, _, a in old} == {a for _, _, a in new} == {"occupation"}
    assert new == {(FactKind.PROFILE, "Works as a data analyst at the NHS", "occupation")}


def test_home_origin_and_nationality() -> None:
    assert texts("I'm based in Manchester.") == {"Lives in Manchester"}
    assert texts("I've lived in Dublin for five years now.") == {"Lives in Dublin"}
    assert texts("I've got a north-facing garden in Sheffield.") == {"Lives in Sheffield"}
    assert texts("I grew up in Glasgow.") == {"Is from Glasgow"}
    assert texts("Do I need a visa as a Canadian citizen") == {"Is a Canadian citizen"}
    assert texts("I'm Italian but I live in Spain.") == {"Is Italian", "Lives in Spain"}
    moved = said("Actually, I moved to Berlin, not Munich.")
    assert (FactKind.PROFILE, "Lives in Berlin", "residence") in moved


def test_a_supposed_or_past_home_is_not_where_the_user_lives() -> None:
    for text in (
        "What if I moved to Berlin?",
        "I used to live in Paris.",
        "my mum's house in Leeds is lovely",
        "our holiday home in Spain is lovely",
    ):
        assert not any(a == "residence" for _, _, a in said(text)), text


def plan_texts(*said_texts: str) -> set[str]:
    return {text for kind, text, _ in said(*said_texts) if kind is FactKind.PLAN}


def test_plans_are_found_with_their_dates_before_or_after_them() -> None:
    assert plan_texts("Next Friday I fly to Lisbon.") == {
        "Plans to fly to Lisbon (next friday, around 2026-03-13; said 2026-03-02)"
    }
    assert plan_texts("On March 3rd I have a dentist appointment.") == {
        "Plans to have a dentist appointment (on march 3rd, around 2026-03-03; said 2026-03-02)"
    }
    assert plan_texts("in two weeks I'm starting evening classes in Spanish") == {
        "Plans to start evening classes in Spanish (in two weeks, around 2026-03-16;"
        " said 2026-03-02)"
    }
    assert plan_texts("We're going to Japan in May.") == {
        "Plans to go to Japan (in may, around 2026-05; said 2026-03-02)"
    }
    assert plan_texts("my driving test is on the 14th") == {
        "Has their driving test coming up (on the 14th, around 2026-03-14; said 2026-03-02)"
    }
    assert plan_texts("I need a packing list for a camping trip with the kids this Friday") == {
        "Plans a camping trip with the kids (this friday, around 2026-03-06; said 2026-03-02)"
    }
    assert plan_texts("I've been asked to lead the move to Kafka next quarter, kind of scary") == {
        "Plans to lead the move to Kafka (next quarter, around 2026-04; said 2026-03-02)"
    }


def test_what_is_said_of_the_future_is_not_always_a_plan() -> None:
    for text in (
        "I'll have to think about it.",
        "she thinks I'll be back to full practice by Christmas",
        "I go running every Sunday.",
        "I have a question about tomorrow.",
        "I'll do that.",
        "I'm feeling better today.",
        "I failed my exam in May.",
    ):
        assert plan_texts(text) == set(), text


def test_the_base_form_of_a_verb_in_ing() -> None:
    forms = {
        "cooking": "cook",
        "moving": "move",
        "running": "run",
        "visiting": "visit",
        "taking": "take",
        "giving": "give",
        "celebrating": "celebrate",
        "eating": "eat",
        "flying": "fly",
        "seeing": "see",
        "calling": "call",
        "changing": "change",
    }
    assert {verb: base_form(verb) for verb in forms} == forms


def test_events_carry_the_past_date_they_are_said_with() -> None:
    events = {
        text
        for kind, text, _ in said(
            "Last weekend I ran a marathon.",
            "I broke my wrist in May when I came off my bike.",
            "we got engaged on holiday in Crete in August, it's been quite a year",
            "did my first parkrun this morning and no hypo!!",
            "I'm training for the Berlin marathon.",
        )
        if kind is FactKind.EVENT
    }
    assert events == {
        "Ran a marathon (last weekend, around 2026-02-28)",
        "Broke their wrist (in may, around 2025-05)",
        "Got engaged on holiday in Crete (in august, around 2025-08)",
        "Did their first parkrun (this morning, around 2026-03-02)",
        "Is training for the Berlin marathon (as of 2026-03-02)",
    }


def test_a_past_act_without_a_time_or_a_thought_is_not_an_event() -> None:
    for text in ("I went to the doctor.", "I asked my boss yesterday.", "I need to go."):
        assert not any(kind is FactKind.EVENT for kind, _, _ in said(text)), text


def test_decisions_in_many_words_and_company_is_not_one() -> None:
    decisions = {
        text
        for kind, text, _ in said(
            "we're going with the barn. it's cheaper",
            "ok let's go with the wellington",
            "We opted for the cheaper flight.",
            "we've decided against electric for now, going with the RAV4",
        )
        if kind is FactKind.DECISION
    }
    assert decisions == {
        "Chose the barn (2026-03-02)",
        "Chose the wellington (2026-03-02)",
        "Chose the cheaper flight (2026-03-02)",
        "Decided against electric for now, going with the RAV4 (2026-03-02)",
    }
    assert said("I'm going with my sister.") == set()


def test_preferences_favourites_and_dislikes() -> None:
    facts = said(
        "I much prefer a small guesthouse.",
        "Ishiguro is my favourite author.",
        "My favourite film is Alien.",
        "I'm not a fan of big hotels.",
        "I love slow, quiet literary stuff.",
        "I'm not a morning person.",
    )
    assert facts == {
        (FactKind.PREFERENCE, "Prefers a small guesthouse", "preference:a small guesthouse"),
        (FactKind.PREFERENCE, "Favourite author is Ishiguro", "favourite:author"),
        (FactKind.PREFERENCE, "Favourite film is Alien", "favourite:film"),
        (FactKind.PREFERENCE, "Dislikes big hotels", "preference:big hotels"),
        (
            FactKind.PREFERENCE,
            "Likes slow, quiet literary stuff",
            "preference:slow, quiet literary stuff",
        ),
        (FactKind.PREFERENCE, "Is not a morning person", "preference:morning person"),
    }
    for text in ("I prefer the second one.", "I love it here.", "I love coffee, I drink a lot."):
        assert not any("one" in t or "here" in t or "drink" in t for t in texts(text)), text


def open_texts(*turns: tuple[str, str]) -> set[str]:
    return {text for kind, text, _ in found(dialogue(*turns)) if kind is FactKind.OPEN_QUESTION}


def test_undecided_and_still_unanswered_questions_stay_open() -> None:
    assert open_texts(("user", "still not sure whether to lease it or buy it outright though")) == {
        "Not sure whether to lease it or buy it outright"
    }
    asked_back = open_texts(
        ("user", "should I do a PhD or go into industry?"),
        ("assistant", "What parts of your master's have you enjoyed most?"),
    )
    assert asked_back == {"should I do a PhD or go into industry?"}
    thinking = open_texts(
        ("user", "is a greenhouse worth it with this little light?"),
        ("assistant", "A small one could still work for seedlings."),
        ("user", "hmm, I'll have to think about it"),
    )
    assert thinking == {"is a greenhouse worth it with this little light?"}


def test_a_question_answered_after_a_clarification_is_not_open() -> None:
    answered = open_texts(
        ("user", "Should I buy a house or keep renting?"),
        ("assistant", "What's your budget?"),
        ("user", "About 300k."),
        ("assistant", "Then buying looks affordable in most areas."),
    )
    assert answered == set()
    assert open_texts(("user", "another one?")) == set(), "too short to be worth keeping"


def test_new_phrasings_do_bounded_work_on_hostile_input() -> None:
    units = (
        "my our little ",
        "I'm a ",
        "a a a a trip with ",
        "Mia is 7 and ",
        "I'm allergic to ",
        "I have had ",
        "not sure whether ",
        "is my favourite ",
        "the 1st in two next ",
        "I'm cooking ",
        "she's a beagle called ",
        "my sister ",
        "me n my twins mia and ",
        "Tom, my ",
        "i get plantar ",
        "theyve me on ",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "my flat in san ",
        "we moved from porto to ",
        "im gonna lease one ",
        "staff nurse here, ",
        "i run a tiny ",
    )
    for unit in units:
        text = (unit * (32_000 // len(unit) + 1))[:32_000]
        started = time.perf_counter()
        extract_rules(dialogue(("user", text)), per_message=12)
        assert time.perf_counter() - started < 5, unit


@pytest.mark.parametrize(
    ("said", "named"),
    [
        ("Hi! I'm Marta. I work in Lisbon.", "Is named Marta"),
        ("I'm Marta, I run a bakery.", "Is named Marta"),
        ("I'm English.", None),
        ("I'm Sorry.", None),
        ("I'm tired.", None),
    ],
)
def test_a_name_said_as_an_introduction(said: str, named: str | None) -> None:
    texts = [f.text for f in extract_rules(dialogue(("user", said))) if f.attribute == "name"]
    assert texts == ([named] if named else [])


def test_people_named_in_lower_case_as_many_people_type() -> None:
    facts = found(
        dialogue(
            ("user", "ok so my twins mia and jack start school and my flatmate priya reckons"),
            ("user", "me + my husband dev, neither of us have been. The wife maureen says hi"),
            ("user", "Found my late wife Gwen's stamps. Biscuit (our old spaniel) found them."),
        )
    )
    relations = {text for kind, text, _ in facts if kind is FactKind.RELATION}
    assert relations == {
        "Has a twin named Mia",
        "Has a twin named Jack",
        "Has a flatmate named Priya",
        "Has a husband named Dev",
        "Has a wife named Maureen",
        "Has a late wife named Gwen",
        "Has a spaniel named Biscuit",
    }


@pytest.mark.parametrize(
    "said",
    [
        "my sister said no and my mum lol",
        "Honestly, my wife agrees. my son works. my dad died.",
        "My sister and I went out, my boss again. Then, my boss called.",
        "my son plays football",
    ],
)
def test_words_after_a_relation_are_not_names(said: str) -> None:
    assert not [f for f in extract_rules(dialogue(("user", said))) if f.kind is FactKind.RELATION]


def test_homes_medicines_conditions_and_jobs_typed_in_lower_case() -> None:
    facts = found(
        dialogue(
            ("user", "my flat in bristol has black mould. now staying in petaling jaya not subang"),
            ("user", "theyve me on naproxen for the swellin. i get plantar fasciitis sometimes"),
            ("user", "I have macular degeneration. staff nurse here, 3 yrs in the ER."),
            ("user", "hey so i run a tiny sourdough bakery in san marcos. vegan since last year"),
        )
    )
    texts = {text for kind, text, _ in facts if kind is FactKind.PROFILE}
    assert {
        "Lives in Bristol",
        "Lives in Petaling Jaya",
        "Takes naproxen",
        "Has plantar fasciitis",
        "Has macular degeneration",
        "Works as a staff nurse",
        "Runs a tiny sourdough bakery in san marcos",
        "Is vegan",
    } <= texts


def test_someone_elses_medicine_and_words_that_only_look_medical() -> None:
    said = "my mum is on metformin. She's taking sertraline. I have a diagnosis and a diploma."
    assert not [f for f in extract_rules(dialogue(("user", said))) if f.kind is FactKind.PROFILE]


def test_moving_from_one_place_to_another_and_retiring_somewhere() -> None:
    facts = found(
        dialogue(("user", "we moved from porto to braga. We retired out to the Dordogne."))
    )
    texts = {text for kind, text, _ in facts if kind is FactKind.PROFILE}
    assert {"Lives in Braga", "Lives in the Dordogne"} <= texts


def test_a_choice_of_one_thing_over_another_is_a_decision_not_a_plan() -> None:
    facts = found(
        dialogue(
            ("user", "gonna need an oven, im gonna lease one instead of buying, cant tie up cash"),
            ("user", "i'm not taking the team lead role. and im turning down the masters"),
            ("user", "right we've went wi an agency called bluebell care"),
        )
    )
    assert {text.split(" (")[0] for kind, text, _ in facts if kind is FactKind.DECISION} == {
        "Decided to lease one instead of buying",
        "Decided not to take the team lead role",
        "Decided to turn down the masters",
        "Chose an agency called bluebell care",
    }
    assert not [text for kind, text, _ in facts if kind is FactKind.PLAN]
