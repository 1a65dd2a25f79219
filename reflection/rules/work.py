"""Work rules: the user's job ("I'm a nurse at St Thomas' in London", "I work as…"), a new
job, past jobs, the employer, the field or town they work in, what they do professionally,
and their studies. Each fact carries the attribute a later value of the same thing
supersedes ("occupation", "employer", "workplace")."""

import re

from memory.core.domain import FactKind
from memory.core.records import Message
from reflection.rules.base import (
    NOT_NAMES,
    PLACE,
    SUBJECT_ADVERBS,
    Rule,
    RuleFact,
    Said,
    article,
    clean,
    fact,
    first,
    said_on,
)
from reflection.rules.dates import plan_note

_OCCUPATION_ENDINGS = (
    "er",
    "or",
    "ist",
    "ian",
    "ant",
    "ent",
    "yst",
    "ect",
    "nurse",
    "chef",
    "cook",
    "student",
    "doctor",
    "pilot",
    "surgeon",
    "nanny",
    "vet",
    "medic",
    "intern",
    "clerk",
    "barista",
    "physio",
    "postdoc",
    "apprentice",
    "detective",
    "founder",
    "ceo",
    "cto",
    "cfo",
    "midwife",
    "attorney",
    "secretary",
    "actuary",
    "notary",
    "waitress",
    "trainee",
    "freelancer",
    "dev",
)
# Words ending like an occupation that say something else about a person ("I'm a runner",
# "I'm a big fan", "I'm a vegetarian").
_NOT_OCCUPATIONS = frozenset(
    """
bit lot little fan big huge better user other number member beginner newcomer winner loser
another runner swimmer cyclist climber gamer reader gardener birder hiker skier surfer golfer
player lover drinker smoker eater sleeper believer owner worrier planner learner listener
talker thinker dreamer introvert extrovert vegetarian vegan pescatarian christian mother
father brother sister daughter grandmother grandfather partner customer subscriber resident
patient parent adult teenager client citizen native immigrant expat foreigner stranger
survivor person enthusiast fanatic addict perfectionist optimist pessimist realist idealist
minimalist procrastinator overthinker night morning londoner northerner southerner
sucker homeowner renter tenant buyer voter supporter follower viewer passenger visitor
tourist traveler traveller commuter newbie rookie collector
""".split()  # noqa: SIM905 - a word list reads better as text
)
# Words ending like an occupation that only qualify one: "junior analyst".
_RANKS = frozenset({"junior", "senior", "interior", "exterior", "major", "minor", "inner", "outer"})
# Words before a job that make it something else than what the user does for work.
_NOT_WORKING = frozenset(
    """
good great terrible bad decent keen avid massive total complete proper real amateur hobby
aspiring wannabe former ex retired recovering lifelong passionate casual weekend lazy picky
fussy light heavy early self-taught
""".split()  # noqa: SIM905
)
_ONE_WORD_DEMONYMS = """
american british english scottish welsh irish canadian australian mexican brazilian
argentinian argentine chilean colombian peruvian venezuelan cuban french german italian
spanish portuguese dutch belgian swiss austrian swedish norwegian danish finnish icelandic
polish czech slovak hungarian romanian bulgarian greek turkish russian ukrainian serbian
croatian bosnian slovenian albanian lithuanian latvian estonian indian pakistani
bangladeshi nepali chinese japanese korean vietnamese thai filipino indonesian malaysian
singaporean taiwanese egyptian moroccan algerian tunisian nigerian ghanaian kenyan ethiopian
somali zimbabwean ugandan tanzanian israeli lebanese syrian iraqi iranian saudi emirati
jordanian palestinian afghan
""".split()  # noqa: SIM905 - a word list reads better as text
DEMONYMS = frozenset(_ONE_WORD_DEMONYMS) | {"sri lankan", "south african", "new zealander"}
DEMONYM_WORDS = frozenset(_ONE_WORD_DEMONYMS)

# A job of up to four words, none of them a preposition or a clause word.
_WORD = r"(?!(?:at|for|with|in|on|and|or|but|from|of|to|so|who|which|now)\b)[a-z][a-z\-]{1,30}"
_JOB = _WORD + r"(?: " + _WORD + r"){0,3}"
_WHERE = r"(?P<at> (?:at|for|with|in) [^,.;!?]{2,60})?"

_OCCUPATION = re.compile(
    r"\bi(?:'m| am) (?:an? )?(?P<x>[a-z][a-z\- ]{2,40}?) by (?:profession|trade)\b"
    r"|\b(?:i|and)(?: currently| now| also)? work as (?:an? )?(?P<y>[a-z][^,.;!?]{2,80})"
    r"|\bmy (?:job|profession|occupation) is (?:being )?(?:an? )?(?P<z>[a-z][^,.;!?]{2,80})"
    r"|\bi(?:'m| am) (?:now |currently |also |actually )?(?:an? )(?P<w>" + _JOB + r")" + _WHERE,
    re.IGNORECASE,
)
_SPLIT_WHERE = re.compile(r"\s+(?=(?:at|in|for|with|from|on)\b)", re.IGNORECASE)
_PLACE_IN = re.compile(r"\bin (?P<x>" + PLACE + r")")


def _job(words: list[str]) -> list[str] | None:
    """The words of a job up to its head noun ("software engineer" of "software engineer
    working nights"), or None when no word is one."""
    for index, word in enumerate(words):
        if word.endswith(_OCCUPATION_ENDINGS) and word not in _RANKS:
            if word in _NOT_OCCUPATIONS or DEMONYM_WORDS & set(words[: index + 1]):
                return None
            return words[: index + 1]
    return None


def _occupation(match: re.Match[str], said: Said) -> list[RuleFact]:
    """The user's job ("Works as a product manager at …"); "I'm a X" alone only for
    occupation-like nouns."""
    if match.group("w") is not None:
        words = _job(match.group("w").lower().split())
        if words is None or words[0] in _NOT_WORKING:
            return []
        job, where = " ".join(words), clean(match.group("at") or "")
    else:
        parts = _SPLIT_WHERE.split(clean(first(match, "x", "y", "z")), maxsplit=1)
        job, where = clean(parts[0]).lower(), (parts[1] if len(parts) > 1 else "")
    if not job:
        return []
    text = f"Works as {article(job)}" + (f" {where}" if where else "")
    return _work(text, where, said.message)


def _work(text: str, where: str, message: Message) -> list[RuleFact]:
    """The job, and the town it is in when it is said ("a school in Leeds": Leeds)."""
    found = fact(FactKind.PROFILE, text, "occupation", 0.7, 0.7, message)
    town = _PLACE_IN.search(where)
    if town is not None and town.group("x") not in NOT_NAMES:
        text = f"Works in {town.group('x')}"
        found += fact(FactKind.PROFILE, text, "workplace", 0.5, 0.7, message)
    return found


_TEACH = re.compile(
    r"\bi (?:currently |now |also )?teach (?!(?:my|myself|him|her|them|you|it)\b)"
    r"(?P<x>[a-z][^,.;!?]{2,80})",
    re.IGNORECASE,
)


def _teach(match: re.Match[str], said: Said) -> list[RuleFact]:
    what = clean(match.group("x"))
    where = _SPLIT_WHERE.split(what, maxsplit=1)
    return _work(f"Teaches {what}", where[1] if len(where) > 1 else "", said.message)


_NEW_JOB = re.compile(
    r"\bi(?:'m| am)? (?:just |recently )?(?:start|started|starting|begin|began|beginning"
    r"|got|landed|accepted) (?:a|my) new (?:job|role|position)(?P<when> [^,.;!?]{1,30}?)?"
    r" as (?:an? )?(?P<x>[a-z][^,.;!?]{2,80})"
    r"|\bi(?:'ve| have)? (?:just |recently )?started (?:a new job |working )?at"
    r" (?P<y>[^,.;!?]{2,60})",
    re.IGNORECASE,
)


def _new_job(match: re.Match[str], said: Said) -> list[RuleFact]:
    what = clean(first(match, "x", "y"))
    when = (match.group("when") or "").strip()
    if match.group("x") is None:
        return _work(f"Works at {what} (started by {said_on(said.message)})", "", said.message)
    if when:
        text = f"Starts a new job as {article(what)}{plan_note(when, said.message.created_at)}"
        return _work(text, what, said.message)
    return _work(f"Works as {article(what)}", what, said.message)


_PAST_JOB = re.compile(
    r"\bi (?:spent|worked) (?:(?:about |nearly |almost |over )?[a-z0-9]{1,8} (?:years?|months?) )?"
    r"as (?:an? )?(?P<x>" + _JOB + r")"
    r"|\bi used to (?:be|work as) (?:an? )?(?P<y>" + _JOB + r")",
    re.IGNORECASE,
)


def _past_job(match: re.Match[str], said: Said) -> list[RuleFact]:
    said_words = first(match).split()
    words = _job([w.lower() for w in said_words])
    if words is None or words[0] in _NOT_WORKING:
        return []
    text = f"Previously worked as {article(' '.join(said_words[: len(words)]))}"
    return fact(FactKind.PROFILE, text, None, 0.5, 0.7, said.message)


# An organisation: "a bank", "the council", "Spotify", "Acme Corp".
_ORG = (
    r"(?:(?:an?|the) [a-z][\w&'-]{1,30}(?: [a-z][\w&'-]{1,30}){0,2}"
    r"|[A-Z][\w&.'-]{1,30}(?: [A-Z][\w&.'-]{1,30}){0,3})"
)
_EMPLOYER = re.compile(
    r"\b(?i:i) (?i:" + SUBJECT_ADVERBS + r")work(?: remotely| from home| full[- ]time"
    r"| part[- ]time| freelance)? (?:for|at) (?P<x>" + _ORG + r")"
)
_NOT_EMPLOYERS = frozenset({"the weekend", "the weekends", "the moment", "a living", "the money"})


def _employer(match: re.Match[str], said: Said) -> list[RuleFact]:
    org = clean(match.group("x"))
    if org.lower() in _NOT_EMPLOYERS or org in NOT_NAMES:
        return []
    return fact(FactKind.PROFILE, f"Works for {org}", "employer", 0.6, 0.7, said.message)


_FIELDS = (
    r"finance|marketing|tech|healthcare|health care|education|sales|retail|hospitality|it"
    r"|software|hr|law|consulting|insurance|banking|publishing|advertising|construction"
    r"|logistics|research|academia|government|media|journalism|engineering|pharma|nursing"
    r"|medicine|real estate|accounting|fashion|film|tv|television|social care|the nhs"
)
_WORKS_IN = re.compile(
    r"\b(?i:i) (?i:" + SUBJECT_ADVERBS + r")work(?: remotely| mostly| mainly)?"
    r" (?P<how>in|from) (?P<x>(?:the )?" + PLACE + r"|(?i:" + _FIELDS + r"))\b"
)


def _works_in(match: re.Match[str], said: Said) -> list[RuleFact]:
    where = match.group("x")
    if where[0].isupper() and where.split()[-1] not in NOT_NAMES:
        text = f"Works {match.group('how')} {where}"
        return fact(FactKind.PROFILE, text, "workplace", 0.5, 0.7, said.message)
    if match.group("how") == "in" and not where[0].isupper():
        return fact(FactKind.PROFILE, f"Works in {where}", "field", 0.5, 0.7, said.message)
    return []


_PROFESSIONALLY = re.compile(
    r"\bi (?P<x>(?:play|teach|write|sing|dance|paint|draw|cook|design|translate|photograph"
    r"|coach|drive|build|repair|act|perform|compose|illustrate|edit)\b[^,.;!?]{0,40}?)"
    r" (?:professionally|for a living)\b",
    re.IGNORECASE,
)


def _professionally(match: re.Match[str], said: Said) -> list[RuleFact]:
    verb, _, rest = clean(match.group("x")).partition(" ")
    text = f"{verb.capitalize()}s {rest} professionally".replace("  ", " ")
    return fact(FactKind.PROFILE, text, "occupation", 0.7, 0.7, said.message)


_DEGREE = (
    r"master's(?: degree)?|masters(?: degree)?|phd|doctorate|bachelor's(?: degree)?|degree"
    r"|undergrad|bsc|msc|mba|mphil"
)
_STUDY = re.compile(
    r"\bmy (?P<deg>" + _DEGREE + r") (?:is )?in (?P<x>[a-z][a-z\- ]{2,40}?)"
    r"(?= (?:in|at|from|and|but|so|next|this|by|with|which)\b|[,.;!?]|$)"
    r"|\bi(?:'m| am) (?:doing|studying for|taking|halfway through) (?:an? )?(?P<deg2>"
    + _DEGREE
    + r") in (?P<y>[a-z][a-z\- ]{2,40}?)(?= (?:in|at|from|and|but|so|next|this|by)\b|[,.;!?]|$)",
    re.IGNORECASE,
)


def _study(match: re.Match[str], said: Said) -> list[RuleFact]:
    degree = first(match, "deg", "deg2").lower()
    subject = clean(first(match, "x", "y"))
    text = f"Studies {subject} ({degree})"
    return fact(FactKind.PROFILE, text, "studies", 0.6, 0.7, said.message)


# "staff nurse here, 3 yrs in the ER": the job said as an introduction, at a clause's start.
_JOB_HERE = re.compile(
    r"(?:^|(?<=[.!?,] ))(?:(?i:hi|hello|hey|hiya)[^.!?,]{0,12}[.!?,] )?(?P<x>(?i:" + _JOB + r"))"
    r" (?i:here)(?=\s*[,.;:!-]|$)"
)


def _job_here(match: re.Match[str], said: Said) -> list[RuleFact]:
    words = _job(match.group("x").lower().split())
    if words is None or words[0] in _NOT_WORKING:
        return []
    return _work(f"Works as {article(' '.join(words))}", "", said.message)


_BUSINESSES = (
    r"bakery|shop|caf[eé]|coffee shop|restaurant|business|company|salon|farm|studio|bar|pub"
    r"|practice|clinic|garage|store|agency|start-?up|firm|stall|food truck|b&b|guesthouse"
    r"|nursery|kennels?|gym|bookshop|bookstore|brewery|vineyard|workshop|consultancy"
)
_RUNS = re.compile(
    r"\bi (?:run|own|have|started|opened) (?:an?|my own|a little|my) "
    r"(?P<x>(?:[a-z'&-]{2,20} ){0,3}(?:" + _BUSINESSES + r"))\b"
    r"(?P<at> in (?:" + PLACE + r"|[a-z]{3,20}(?: [a-z]{3,20})?))?",
    re.IGNORECASE,
)


def _runs(match: re.Match[str], said: Said) -> list[RuleFact]:
    what = match.group("x").lower()
    where = match.group("at") or ""
    return _work(f"Runs {article(what)}{where}", where, said.message)


RULES = (
    Rule(_OCCUPATION, _occupation),
    Rule(_JOB_HERE, _job_here),
    Rule(_RUNS, _runs),
    Rule(_TEACH, _teach),
    Rule(_NEW_JOB, _new_job),
    Rule(_PAST_JOB, _past_job),
    Rule(_EMPLOYER, _employer),
    Rule(_WORKS_IN, _works_in),
    Rule(_PROFESSIONALLY, _professionally),
    Rule(_STUDY, _study),
)
