"""Relation rules: the people and pets in the user's life, by name ("my wife Priya", "we have a
toddler, Leo", "our cat Miso is 11", "a beagle called Pepper", "Mia is 7" once the user has
mentioned their kids) and where relatives live ("my parents live in Leeds"). Each named one
is remembered for the rest of the extraction, so "her fiancé Marco" can say whose."""

import re

from memory.core.domain import FactKind
from reflection.rules.base import (
    MONTHS,
    NAME,
    NOT_NAMES,
    PLACE,
    WEEKDAYS,
    Person,
    Rule,
    RuleFact,
    Said,
    article,
    fact,
    said_before,
    said_on,
)


def _words(listed: str) -> list[str]:
    return [w.strip() for w in listed.split(",")]


_FEMALE = _words(
    "wife, girlfriend, fiancee, fiancée, mum, mom, mam, mammy, mother, mummy, stepmum, stepmom,"
    " sister, stepsister, half-sister, daughter, stepdaughter, grandma, grandmother, granny, nan,"
    " aunt, niece, granddaughter, mother-in-law, sister-in-law, daughter-in-law, landlady"
)
_MALE = _words(
    "husband, boyfriend, fiance, fiancé, dad, father, daddy, papa, stepdad, stepfather,"
    " brother, stepbrother, half-brother, son, stepson, grandpa, grandfather, grandad, uncle,"
    " nephew, grandson, father-in-law, brother-in-law, son-in-law, landlord"
)
_OTHERS = _words(
    "partner, spouse, child, kid, baby, toddler, teenager, twin, cousin, friend, best friend,"
    " bestie, flatmate, housemate, roommate, neighbor, neighbour, boss, manager, colleague,"
    " coworker, co-worker, mentor, therapist, coach, tutor, teammate, classmate, mate,"
    " best mate, pal, buddy, bff, supervisor, carer, caregiver, godmother, godfather,"
    " goddaughter, godson, ex, ex-husband, ex-wife, ex-partner"
)
ANIMALS = _words(
    "dog, cat, puppy, kitten, rabbit, bunny, hamster, guinea pig, parrot, budgie, tortoise,"
    " turtle, snake, lizard, gecko, goldfish, horse, pony, beagle, labrador, golden retriever,"
    " retriever, spaniel, cocker spaniel, terrier, poodle, collie, border collie, greyhound,"
    " whippet, dachshund, pug, husky, corgi, bulldog, french bulldog, german shepherd,"
    " cockapoo, labradoodle, jack russell, tabby"
)
_RELATIONS = [*_FEMALE, *_MALE, *_OTHERS]


def _alternation(words: list[str]) -> str:
    # Longest first, so "best friend" is not read as "friend" and "son-in-law" not as "son".
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_REL = _alternation(_RELATIONS + ANIMALS)
_ANIMAL = _alternation(ANIMALS)
_PLURALS = {
    "kids": "child",
    "children": "child",
    "sons": "son",
    "daughters": "daughter",
    "twins": "twin",
    "dogs": "dog",
    "cats": "cat",
    "boys": "son",
    "girls": "daughter",
}
_ADJECTIVE = (
    r"(?:(?:little|big|older|younger|baby|twin|eldest|oldest|youngest|new|dear|lovely"
    r"|old|elder|middle|step|late|\d{1,2}-year-old) )?"
)
_AGE = (
    r"(?: (?:is|who's|who is|just turned|turned|'s) (?P<age>\d{1,2}(?: months)?)"
    r"(?: (?:years )?old)?(?!\d|\.\d|[:%]| ?(?:am|pm|km|miles|kg|minutes|hours|times)\b))?"
)

# "our neighbour Mr Adeyemi", "my supervisor Prof. Lindqvist": the title stays with the name.
_TITLE = r"(?P<title>(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Professor)\.? )?"
_NAMED = re.compile(
    r"\b(?i:(?:my|our) " + _ADJECTIVE + r"(?P<rel>" + _REL + r")(?:'s name is|,)?"
    r" (?:is |is called |is named |named |called )?)" + _TITLE + r"(?P<x>" + NAME + r")\b" + _AGE
)


# The same, typed the way many people type: all in lower case ("my brother callum", "me n my
# flatmate priya", "the wife maureen reckons"). A lower-case word is a name only where a name
# stands: right after the relation, then the end of a clause, "and" with a second name, or a
# verb the name is the subject of ("priya reckons", "kasia was"), and never a word of the
# language that could stand there ("my sister said", "my mum lol").
_LOWER_NAME = r"[a-z][a-z'-]{1,20}"
_AFTER_NAME = (
    r"(?=\s*(?:[,.;:!?)]|$)|\s+(?:and|&|n|is|was|are|were|has|had|says|said|reckons|thinks"
    r"|wants|keeps|who|works|lives|does|did|will|would|can|could|just|also|too|told|texted"
    r"|called|asked)\b|'s\b)"
)
_NAMED_LOWER = re.compile(
    r"\b(?i:(?:my|our|the(?= (?:wife|husband|missus|hubby)\b)) "
    + _ADJECTIVE
    + r"(?P<rel>"
    + _REL
    + r"|kids|twins|sons|daughters|part[- ]timer)(?:,)? )"
    r"(?P<x>"
    + _LOWER_NAME
    + r")(?:(?=(?: and| &| n) (?P<y>"
    + _LOWER_NAME
    + r")\b))?"
    + _AFTER_NAME
)
_NOT_LOWER_NAMES = (
    frozenset(
        """
a an the and or but so if to of in on at by for with from about as into than then that this
these those it its is are was were be been being am do does did have has had will would can
could should shall may might must who whom whose which what when where why how there here
just really very too also not no yes all any some much many more most such own same other
only even still again ever never always up down out off over under now today tonight
yesterday tomorrow lol lmao haha tbh btw ngl tho though anyway anyways ok okay sure well
said says say told tells asked asks called texted rang rings went goes go going gone came
comes come got gets get left leaves died dies passed passes lost loses found finds took
takes gave gives saw sees met meets sent sends bought buys made makes knows knew thinks
thought wants wanted loves loved hates hated likes liked needs needed keeps kept works
worked lives lived moved moves reckons feels felt seems looks helps helped tries tried
says had being used uses does doesnt didnt isnt wasnt cant wont dont hasnt havent
recently lately finally actually honestly literally basically usually always sometimes
mostly barely hardly mainly nearly simply surely rarely weekly daily early once twice
i me my you your he him his she her we us our they them their mum mom dad brother sister
son daughter wife husband kids kid friend mate partner boss first last next both either
neither herself himself themselves back home bless rip please pls thx xx lots
""".split()  # noqa: SIM905 - a word list reads better as text
    )
    | set(MONTHS)
    | set(WEEKDAYS)
)


def _lower_name(word: str | None) -> str | None:
    """A lower-case word taken for a name, capitalised; None when it is a word of the
    language that could stand where the name does."""
    if not word or word in _NOT_LOWER_NAMES:
        return None
    if len(word) > 4 and word.endswith(("ed", "ing", "ly")):  # "died", "starting", "usually"
        return None
    # "my wife agrees.": a verb; names that end in s mostly end so ("luis", "marcus", "jess").
    if word.endswith("s") and not word.endswith(("is", "os", "us", "as", "ss")):
        return None
    return "-".join(part.capitalize() for part in word.split("-"))


def _named_lower(match: re.Match[str], said: Said) -> list[RuleFact]:
    relation = match.group("rel").lower().replace("part timer", "part-timer")
    relation = _late(match) + _PLURALS.get(relation, relation)
    names = [n for n in map(_lower_name, (match.group("x"), match.group("y"))) if n]
    if match.group("x") and not _lower_name(match.group("x")):
        return []  # "my sister and …": the first word after the relation is no name
    return [f for name in names for f in _person(relation, name, None, said)]


def _named(match: re.Match[str], said: Said) -> list[RuleFact]:
    title, name = match.group("title"), match.group("x")
    relation = _late(match) + match.group("rel")
    return _person(relation, f"{title}{name}" if title else name, match.group("age"), said)


def _late(match: re.Match[str]) -> str:
    """ "late " when the relation is said to have died ("my late wife Gwen")."""
    return "late " if re.search(r"\blate ", match.group(0), re.IGNORECASE) else ""


def _person(relation: str, name: str, age: str | None, said: Said) -> list[RuleFact]:
    relation = relation.lower()
    if name in NOT_NAMES:
        return []
    said.people.append(Person(relation, name))
    attribute = f"relation:{relation}:{name.lower()}"
    aged = f", aged {age} (as of {said_on(said.message)})" if age else ""
    text = f"Has {article(relation)} named {name}{aged}"
    return fact(FactKind.RELATION, text, attribute, 0.6, 0.8, said.message)


_HAVE = re.compile(
    r"\b(?i:(?:we|i)(?:'ve got| have got| have| got| adopted| rescued)"
    r" (?:an? |one |two |three |four |five )?"
    + _ADJECTIVE
    + r"(?P<rel>"
    + _REL
    + r"|kids|children|sons|daughters|twins|dogs|cats|boys|girls)(?:,| named| called| -))"
    r" (?P<x>" + NAME + r")(?:(?:,| and|, and) (?P<y>" + NAME + r"))?\b"
)


def _have(match: re.Match[str], said: Said) -> list[RuleFact]:
    relation = match.group("rel").lower()
    relation = _PLURALS.get(relation, relation)
    names = [n for n in (match.group("x"), match.group("y")) if n]
    return [f for name in names for f in _person(relation, name, None, said)]


_CALLED = re.compile(
    r"\b(?i:(?:she|he|it)(?:'s| is)|(?:we|i)(?:'ve| have)? (?:got|have|adopted|rescued|bought"
    r"|picked up)|(?:we|i)(?:'re| are|'m| am) (?:getting|adopting|picking up))"
    r" (?i:an? |our |my )?(?:[a-z-]{2,15} ){0,2}(?P<rel>(?i:" + _ANIMAL + r"))"
    r" (?i:called|named) (?P<x>" + NAME + r")\b"
    r"|\b(?i:(?:we|i)(?:'re| are|'m| am) (?:calling|naming|going to call|going to name"
    r"|gonna call) (?:him|her|it|them)) (?P<y>" + NAME + r")\b"
)
_ANIMAL_SAID = re.compile(r"\b(?P<rel>" + _ANIMAL + r")\b", re.IGNORECASE)
_LOOK_BACK = 300  # characters before "we're calling her Maple" where the animal is named


def _called(match: re.Match[str], said: Said) -> list[RuleFact]:
    if match.group("x"):
        return _person(match.group("rel"), match.group("x"), None, said)
    animals = _ANIMAL_SAID.findall(said_before(said, match.start(), _LOOK_BACK))
    if not animals:
        return []
    return _person(animals[-1], match.group("y"), None, said)


# The name first, the relation after it: "Biscuit (our old spaniel)", "Tom, my brother,".
_APPOSED = re.compile(
    r"\b(?P<x>" + NAME + r")(?: \(|, )(?i:my|our) " + _ADJECTIVE + r"(?P<rel>(?i:" + _REL + r"))\b"
)


def _apposed(match: re.Match[str], said: Said) -> list[RuleFact]:
    if match.group("x").lower() in _NOT_LOWER_NAMES:  # "Then, my boss …"
        return []
    return _person(_late(match) + match.group("rel"), match.group("x"), None, said)


_KIDS_SAID = re.compile(
    r"\b(?:kids|children|sons|daughters|son|daughter|toddler|twins|boys|girls)\b", re.IGNORECASE
)
_BARE_AGE = re.compile(
    r"(?:^|(?<=, )|(?<=\band ))(?P<x>" + NAME + r") (?:is|just turned|turned|'s)"
    r" (?P<age>\d{1,2}(?: months)?)"
    r"(?: (?:years )?old)?(?!\d|\.\d|[:%]| ?(?:am|pm|km|miles|kg|minutes|hours|times|o'clock)\b)"
)


def _bare_age(match: re.Match[str], said: Said) -> list[RuleFact]:
    """A name and an age ("Mia is 7"): a child of the user's, once the user has said they
    have children."""
    if not _KIDS_SAID.search(said_before(said, match.start(), _LOOK_BACK)):
        return []
    return _person("child", match.group("x"), match.group("age"), said)


_ONE_OF_THEIRS = re.compile(
    r"\b(?P<pos>(?i:her|his)) (?P<rel>(?i:" + _alternation(_RELATIONS) + r")),?"
    r" (?P<x>" + NAME + r")\b"
)


def _one_of_theirs(match: re.Match[str], said: Said) -> list[RuleFact]:
    """Someone of someone's ("her fiancé Marco"): the last woman (or man) the user named."""
    pos, relation, name = match.group("pos").lower(), match.group("rel").lower(), match.group("x")
    gender = _FEMALE if pos == "her" else _MALE
    whose = next((p for p in reversed(said.people) if p.relation in gender), None)
    if whose is None or name in NOT_NAMES:
        return []
    said.people.append(Person(relation, name))
    text = f"{whose.name}'s {relation} is {name}"
    attribute = f"relation:{whose.name.lower()}:{relation}:{name.lower()}"
    return fact(FactKind.RELATION, text, attribute, 0.5, 0.7, said.message)


_KIN = (
    "parents|folks|in-laws|family|grandparents|mum|mom|dad|mother|father|grandma|grandpa"
    "|brother|sister|son|daughter|kids|children|cousins|aunt|uncle|sister-in-law"
    "|brother-in-law|mother-in-law|father-in-law"
)
_PLURAL_KIN = frozenset(
    _words("parents, folks, in-laws, family, grandparents, kids, children, cousins")
)
_KIN_LIVES = re.compile(
    r"\b(?i:(?:my|our) (?P<rel>" + _KIN + r"))(?: (?P<name>" + NAME + r"))?"
    r"(?: (?i:(?:still |now |also )?(?:lives?|are|is|stays?)))?"
    r" (?i:(?:up |down |over |back |out )?in)"
    r" (?P<x>" + PLACE + r")"
)


def _kin_lives(match: re.Match[str], said: Said) -> list[RuleFact]:
    relation, place, name = match.group("rel").lower(), match.group("x"), match.group("name")
    if place.split()[0] in NOT_NAMES or (name and name in NOT_NAMES):
        return []
    who = f"Their {relation}" + (f" {name}" if name else "")
    verb = "live" if relation in _PLURAL_KIN else "lives"
    attribute = f"relation:{relation}:home"
    return fact(FactKind.RELATION, f"{who} {verb} in {place}", attribute, 0.5, 0.7, said.message)


RULES = (
    Rule(_NAMED, _named),
    Rule(_NAMED_LOWER, _named_lower),
    Rule(_HAVE, _have),
    Rule(_CALLED, _called),
    Rule(_APPOSED, _apposed),
    Rule(_BARE_AGE, _bare_age),
    Rule(_ONE_OF_THEIRS, _one_of_theirs),
    Rule(_KIN_LIVES, _kin_lives),
)
