"""Health rules: what the user says about their own body that anyone helping them must keep
in mind — allergies, intolerances, conditions, the treatments they are on, their diet and
what they cannot eat. Profile facts of high importance; statements about others ("my
sister is coeliac") are not the user's."""

import re

from memory.core.domain import FactKind
from reflection.rules.base import Rule, RuleFact, Said, clean, fact, first, said_on

_HOW = (
    r"(?:(?:also|very|severely|really|quite|badly|seriously|deathly|mildly|slightly|a bit"
    r"|a little|properly|super|highly|extremely|incredibly|so|now|actually) ){0,2}"
)
_SEVERITY = r"(?:(?:severe|serious|mild|bad|nasty|life-threatening|slight) )?"
_THING = r"[a-z][a-z\-]{1,20}(?: [a-z][a-z\-]{1,20})?"

_ALLERGY = re.compile(
    r"\bi(?:'m| am) " + _HOW + r"allergic to (?P<x>[^.;!?]{2,80})"
    r"|\bi (?:have|'ve got|have got|'ve) (?:an? )?" + _SEVERITY + r"(?P<y>" + _THING + r")"
    r" allergy\b"
    r"|\bmy (?P<z>" + _THING + r") allergy\b"
    r"|\bi(?:'ve| have) (?:got )?(?:an? )?" + _SEVERITY + r"allergy to (?P<w>[^.;!?]{2,80})",
    re.IGNORECASE,
)
_LIST = re.compile(r"\s*(?:,\s*and|\band\b|\bor\b|&|/)\s*", re.IGNORECASE)
_NOT_ALLERGENS = frozenset({"it", "that", "this", "something", "anything", "everything", "them"})


def _allergy(match: re.Match[str], said: Said) -> list[RuleFact]:
    """One fact per allergen: "peanuts and shellfish" are two."""
    found: list[RuleFact] = []
    listed = first(match).split(",")[0]
    for item in _LIST.split(listed)[:4]:
        allergen = clean(item).lower()
        if not allergen or allergen in _NOT_ALLERGENS or len(allergen.split()) > 4:
            continue
        text, attribute = f"Allergic to {allergen}", f"allergy:{allergen}"
        found += fact(FactKind.PROFILE, text, attribute, 0.9, 0.8, said.message)
    return found


_INTOLERANCE = re.compile(
    r"\bi(?:'m| am) " + _HOW + r"(?P<x>[a-z]{3,20})[- ]intolerant\b"
    r"|\bi(?:'m| am) " + _HOW + r"intolerant (?:to|of) (?P<y>[a-z]{3,20})"
    r"|\bi (?:have|'ve got|have got) (?:an? )?" + _SEVERITY + r"(?P<z>[a-z]{3,20}) intolerance\b"
    r"|\bmy (?P<w>[a-z]{3,20}) intolerance\b",
    re.IGNORECASE,
)


def _intolerance(match: re.Match[str], said: Said) -> list[RuleFact]:
    what = first(match).lower()
    attribute = f"intolerance:{what}"
    return fact(FactKind.PROFILE, f"Is {what} intolerant", attribute, 0.9, 0.8, said.message)


_CONDITIONS = (
    r"diabetes|asthma|epilepsy|adhd|autism|dyslexia|ibs|crohn's(?: disease)?|crohns"
    r"|co?eliac disease|celiac disease|arthritis|migraines|anxiety|depression|hypertension"
    r"|high blood pressure|low blood pressure|a heart condition|heart disease|cancer|long covid"
    r"|multiple sclerosis|lupus|endometriosis|pcos|psoriasis|eczema|tinnitus|insomnia"
    r"|sleep apno?ea|fibromyalgia|gout|hay ?fever|a bad back|bad knees|a pacemaker|copd|ptsd"
    r"|ocd|bipolar(?: disorder)?|an eating disorder|anaemia|anemia|hypothyroidism"
    r"|a thyroid condition|high cholesterol|glaucoma|scoliosis|osteoporosis|chronic fatigue"
)
# Any condition named by its medical word ("plantar fasciitis", "macular degeneration"):
# the endings and head words medicine names conditions with.
_CONDITION_WORDS = (
    r"(?!(?:diagnosis|prognosis|academia|empathy|sympathy|apathy|telepathy)\b)"
    r"[a-z]{1,20}(?:itis|osis|aemia|emia|pathy|algia)|degeneration|syndrome|disease|disorder"
    r"|deficiency|dystrophy|palsy"
)
_CONDITION = re.compile(
    r"\b(?:i(?:'ve| have)(?: had| got)?(?: been diagnosed with)?|i get"
    r"|i was (?:just |recently |finally )?diagnosed with|i (?:suffer|suffered) from"
    r"|i(?:'m| am)? living with|i live with) "
    r"(?P<x>(?:(?:type [12]|severe|mild|chronic|bad|moderate|early[- ]onset) )?(?:"
    + _CONDITIONS
    + r")|(?:[a-z'-]{2,20} ){0,2}(?:"
    + _CONDITION_WORDS
    + r"))\b(?! (?:about|over|for)\b)"
    r"|\bi(?:'m| am) " + _HOW + r"(?P<y>diabetic|pre-?diabetic|co?eliac|celiac|epileptic"
    r"|asthmatic|autistic|anaemic|anemic|dyslexic|bipolar|pregnant|immunocompromised"
    r"|colou?r[- ]blind|deaf|hard of hearing)\b",
    re.IGNORECASE,
)
_AS_CONDITION = {
    "diabetic": "diabetes",
    "prediabetic": "prediabetes",
    "pre-diabetic": "prediabetes",
    "coeliac": "coeliac disease",
    "celiac": "celiac disease",
    "epileptic": "epilepsy",
    "asthmatic": "asthma",
    "anaemic": "anaemia",
    "anemic": "anemia",
}


def _condition(match: re.Match[str], said: Said) -> list[RuleFact]:
    named = first(match, "x").lower()
    state = first(match, "y").lower()
    if state and state not in _AS_CONDITION:
        text = f"Is {state}" + (f" (as of {said_on(said.message)})" if state == "pregnant" else "")
        return fact(FactKind.PROFILE, text, f"condition:{state}", 0.9, 0.8, said.message)
    condition = named or _AS_CONDITION[state]
    head = condition.split()[-1]
    return fact(FactKind.PROFILE, f"Has {condition}", f"condition:{head}", 0.9, 0.8, said.message)


_TREATMENTS = (
    r"(?:insulin )?pump|insulin|inhaler|medication|meds|tablets|pills|antibiotics"
    r"|antidepressants|statins|steroids|blood thinners|beta blockers|chemo|chemotherapy"
    r"|dialysis|hrt|metformin|cgm|hearing aids?"
)
_TREATMENT = re.compile(
    r"\bi(?:'m| am) (?:now |currently |also |still )?on (?P<x>(?:an? |the )?(?:[\w-]{1,20} ){0,2}"
    r"(?:" + _TREATMENTS + r"))\b"
    r"|\bi (?:take|use|wear|need) (?P<y>(?:an? )?(?:[\w-]{1,20} ){0,2}(?:" + _TREATMENTS + r"))\b",
    re.IGNORECASE,
)
# A medicine by its generic name's stem (the endings international names are built with):
# "metformin", "naproxen", "sertraline", "ramipril", "atorvastatin".
_DRUG = (
    r"[a-z]{2,20}(?:formin|proxen|profen|pril|sartan|olol|statin|prazole|azole|oxetine|aline"
    r"|pram|faxine|pentin|gabalin|farin|xaban|thyroxine|gliptin|gliflozin|glutide|tidine"
    r"|dipine|olone|isone|isolone|mycin|cillin|cycline|triptan|lukast|dronate|zepam|azepam"
    r"|olam|barb|tadine|lamine|semide|thiazide|etine|amol|ocaine)"
)
_ON_DRUG = re.compile(
    r"(?:^|(?<=[\s,(]))(?:(?:on|taking|prescribed|started|started on|put me on|me on) )"
    r"(?P<x>" + _DRUG + r")\b",
    re.IGNORECASE,
)
# "my mum is on metformin", "he's taking …": someone else's medicine.
_SOMEONE_ELSE = re.compile(
    r"\b(?:(?i:he|she|they|his|her|their|mum|mom|dad|wife|husband|son|daughter|brother"
    r"|sister|partner|grandma|grandpa|nan|gran)|[A-Z][a-z]+)(?i:'s| is| are| was| has| had)?"
    r"(?i: (?:been|just|also|now|still))?$"
)


def _on_drug(match: re.Match[str], said: Said) -> list[RuleFact]:
    before = said.sentence[max(0, match.start() - 30) : match.start()]
    if _SOMEONE_ELSE.search(before.rstrip()) and not re.search(r"\b(?:me|i'm|i)\s*$", before):
        return []
    drug = match.group("x").lower()
    return fact(FactKind.PROFILE, f"Takes {drug}", f"treatment:{drug}", 0.8, 0.7, said.message)


_DEVICES = ("pump", "inhaler", "cgm", "aid", "aids")
_ONGOING = ("chemo", "chemotherapy", "dialysis")


def _treatment(match: re.Match[str], said: Said) -> list[RuleFact]:
    what = clean(first(match))
    head = what.lower().split()[-1]
    verb = "Uses" if head in _DEVICES else "Is on" if head in _ONGOING else "Takes"
    attribute = f"treatment:{head}"
    return fact(FactKind.PROFILE, f"{verb} {what}", attribute, 0.8, 0.7, said.message)


_DIETS = r"vegan|vegetarian|veggie|pescatarian|pescetarian|plant-based|flexitarian"
_DIET = re.compile(
    r"\bi(?:'m| am)(?: (?:now|also|strictly|fully|mostly|a|an|strict|full|proper|pretty much"
    r"|basically|completely|totally|mainly)){0,3} (?P<x>" + _DIETS + r")\b"
    r"(?! (?:food|restaurants?|recipes?|options?|places?|friends?|cafes?|dishes|meals?)\b)"
    r"|\bi(?:'ve| have)? (?:gone|went|become|became|turned|been|switched to being)"
    r" (?:fully |completely |totally |100% |strictly |back to being )?(?P<y>" + _DIETS + r")\b"
    r"|\bi(?:'m| am) on an? (?P<z>" + _DIETS + r") diet\b"
    r"|\bi (?:only |strictly |always )?(?P<w>eat halal|keep kosher|eat kosher|keep halal)\b"
    # "vegan since last year so no eggs": the diet said as a clause of its own
    r"|(?:^|(?<=[.!?,] ))(?:(?:been|fully|strictly|mostly) )?(?P<v>" + _DIETS + r")"
    r" (?:since|for (?:a|about|over|nearly|almost|\d|two|three|four|five|six|ten)|now)\b",
    re.IGNORECASE,
)
_DIET_NAMES = {"veggie": "vegetarian", "pescetarian": "pescatarian"}


def _diet(match: re.Match[str], said: Said) -> list[RuleFact]:
    rule = first(match, "w").lower()
    if rule:
        kept = rule.split()[-1]
        text = "Eats halal food" if kept == "halal" else "Keeps kosher"
        return fact(FactKind.PROFILE, text, f"diet:{kept}", 0.9, 0.8, said.message)
    diet = first(match, "x", "y", "z", "v").lower()
    diet = _DIET_NAMES.get(diet, diet)
    return fact(FactKind.PROFILE, f"Is {diet}", "diet", 0.9, 0.8, said.message)


_CANNOT_EAT = re.compile(
    r"\bi (?P<not>can't|cannot|can not|don't|do not|never|no longer) "
    r"(?P<v>eat|drink|tolerate|digest) (?P<x>[^,.;!?]{2,50})",
    re.IGNORECASE,
)
_NOT_FOODS = frozenset(
    """
anything much it that this enough more too right now today out before after while at here
there like a the so when until all any them those these in on with during late properly
well lunch breakfast dinner
""".split()  # noqa: SIM905 - a word list reads better as text
)
_NEGATIONS = {"can't": "Can't", "cannot": "Can't", "can not": "Can't", "no longer": "No longer"}


def _cannot_eat(match: re.Match[str], said: Said) -> list[RuleFact]:
    food = clean(match.group("x"))
    if not food or food.split()[0].lower() in _NOT_FOODS or len(food.split()) > 5:
        return []
    verb = match.group("v").lower()
    negation = _NEGATIONS.get(match.group("not").lower())
    if negation == "Can't":
        text = f"Can't {verb} {food}"
    elif negation:
        text = f"No longer {verb}s {food}"
    else:
        text = f"Doesn't {verb} {food}"
    return fact(FactKind.PROFILE, text, f"diet:{food.lower()}", 0.8, 0.7, said.message)


RULES = (
    Rule(_ALLERGY, _allergy),
    Rule(_INTOLERANCE, _intolerance),
    Rule(_CONDITION, _condition),
    Rule(_TREATMENT, _treatment),
    Rule(_ON_DRUG, _on_drug),
    Rule(_DIET, _diet),
    Rule(_CANNOT_EAT, _cannot_eat),
)
