"""Time phrases in what the user says, resolved against when it was said: forward for plans
("next Friday", "on the 14th", "in two weeks", "in late spring"), backward for events ("last
weekend", "in May", "two days ago"). A phrase that cannot be resolved is kept as said."""

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from reflection.rules.base import MONTHS, WEEKDAYS

_MONTH = "|".join(MONTHS)
_WEEKDAY = "|".join(WEEKDAYS)
_SEASON = "spring|summer|autumn|fall|winter"
_COUNT = (
    r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few"
    r"|a couple of|couple of|\d{1,3})"
)
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)"
_PART = r"(?: (?:morning|afternoon|evening|night))?"

# The phrases that point forward, as a pattern other rules can embed.
FUTURE_PHRASE = (
    r"(?:on )?the " + _ORDINAL + r"(?: of (?:" + _MONTH + r"))?"
    r"|(?:on )?(?:" + _MONTH + r") \d{1,2}(?:st|nd|rd|th)?(?!\d)"
    r"|(?:on )?\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:" + _MONTH + r")"
    r"|in " + _COUNT + r" (?:days?|weeks?|months?|years?)|in a fortnight"
    r"|(?:in|by|from|until|before|at the end of) (?:(?:early|mid|late)[ -])?(?:" + _MONTH + r")"
    r"|(?:early|mid|late)[ -](?:" + _MONTH + r")"
    r"|(?:in|this|next|over the|by) (?:(?:early|mid|late|the) )?(?:" + _SEASON + r")"
    r"|(?:this|next|the coming) (?:week|weekend|month|year|quarter|term|semester)"
    r"|(?:later|early|earlier) this (?:week|month|year)"
    r"|the (?:day|week|weekend|month) after(?: (?:that|next))?"
    r"|(?:on |next |this |coming |this coming )?(?:" + _WEEKDAY + r")" + _PART + r""
    r"|today|tonight|tomorrow" + _PART + r"|this (?:afternoon|evening)"
    r"|(?:at|for|by|over|before|after|next|this) (?:christmas|new year)"
)
FUTURE = re.compile(r"\b(?P<when>" + FUTURE_PHRASE + r")\b", re.IGNORECASE)
PAST = re.compile(
    r"\b(?P<when>yesterday" + _PART + r"|last night|this morning|the other day"
    r"|earlier (?:today|this (?:week|month|year))"
    r"|last (?:week|weekend|month|year|term|semester|christmas|"
    + _SEASON
    + r"|"
    + _WEEKDAY
    + r"|"
    + _MONTH
    + r")"
    r"|" + _COUNT + r" (?:days?|weeks?|months?|years?) ago"
    r"|(?:back )?in (?:(?:early|mid|late) )?(?:" + _MONTH + r")(?: \d{4})?|in (?:19|20)\d\d"
    r"|on (?:" + _WEEKDAY + r")|(?:at|over) the weekend)\b",
    re.IGNORECASE,
)

_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a few": 3,
    "a couple of": 2,
    "couple of": 2,
}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_SEASON_MONTHS = {"spring": 4, "summer": 7, "autumn": 10, "fall": 10, "winter": 12}
_SHIFT = {"early": -1, "mid": 0, "late": 1, "the": 0}

# A resolved date and how precisely it is known ("%Y-%m-%d", "%Y-%m" or "%Y").
Resolved = tuple[datetime, str]
_DAY, _MONTH_ONLY, _YEAR = "%Y-%m-%d", "%Y-%m", "%Y"


def plan_note(text: str, said_at: datetime) -> str:
    """The date note of a plan: " (next friday, around 2026-03-13; said 2026-03-02)" for
    the first future phrase in `text`, or " (said …)" when there is none."""
    found = FUTURE.search(text)
    if found is None:
        return f" (said {said_at:{_DAY}})"
    phrase = found.group("when").lower()
    resolved = _resolve(phrase, said_at, _AHEAD)
    if resolved is None:
        return f" ({phrase}; said {said_at:{_DAY}})"
    return f" ({phrase}, around {resolved[0]:{resolved[1]}}; said {said_at:{_DAY}})"


def plan_date(text: str, said_at: datetime) -> datetime | None:
    """When the plan of `text` takes place, as the end of the period its first future
    phrase names (a day, a month, a year); None when it names none."""
    found = FUTURE.search(text)
    resolved = None if found is None else _resolve(found.group("when").lower(), said_at, _AHEAD)
    if resolved is None:
        return None
    when, precision = resolved
    if precision == _MONTH_ONLY:
        return _add_months(when.replace(day=1), 1) - timedelta(seconds=1)
    if precision == _YEAR:
        return when.replace(month=12, day=31, hour=23, minute=59, second=59)
    return when.replace(hour=23, minute=59, second=59)


def event_note(text: str, said_at: datetime) -> str:
    """The date note of an event: " (last weekend, around 2026-02-28)" for the first past
    phrase in `text`, or " (by …)" when there is none: it happened by the time it was said."""
    found = PAST.search(text)
    if found is None:
        return f" (by {said_at:{_DAY}})"
    phrase = found.group("when").lower()
    resolved = _resolve(phrase, said_at, _BACK)
    if resolved is None:
        return f" ({phrase}; said {said_at:{_DAY}})"
    return f" ({phrase}, around {resolved[0]:{resolved[1]}})"


def without(pattern: re.Pattern[str], text: str) -> str:
    """`text` without its first time phrase ("ran a marathon last weekend": "ran a
    marathon"), the phrase being said again in the note."""
    cut = pattern.sub("", text, count=1)
    return re.sub(r"\s{2,}", " ", cut).replace(" ,", ",").strip(" ,")


Parser = Callable[[str, datetime], Resolved | None]


def _resolve(phrase: str, said_at: datetime, parsers: tuple[Parser, ...]) -> Resolved | None:
    phrase = re.sub(r"^(?:on|in|by|from|until|before|at|for|over|back in) ", "", phrase)
    return next((r for p in parsers if (r := p(phrase, said_at)) is not None), None)


def _fixed_ahead(phrase: str, said: datetime) -> Resolved | None:
    weekend = (5 - said.weekday()) % 7
    days = {
        "today": 0,
        "tonight": 0,
        "this afternoon": 0,
        "this evening": 0,
        "this week": 0,
        "next week": 7,
        "the coming week": 7,
        "this weekend": weekend,
        "next weekend": weekend + 7,
        "the coming weekend": weekend,
    }
    if phrase in days:
        return said + timedelta(days=days[phrase]), _DAY
    if phrase.startswith("tomorrow"):
        return said + timedelta(days=1), _DAY
    months = {"this month": 0, "next month": 1, "next quarter": 3 - (said.month - 1) % 3}
    if phrase in months:
        return _add_months(said, months[phrase]), _MONTH_ONLY
    if phrase in {"next year", "this year"}:
        return said.replace(year=said.year + (phrase == "next year"), day=1), _YEAR
    if phrase.endswith("christmas"):
        past = said.month == 12 and said.day > 25
        return said.replace(year=said.year + past, month=12, day=25), _DAY
    return None


def _in_count(phrase: str, said: datetime) -> Resolved | None:
    found = re.fullmatch(r"(?:(.+) (day|week|month|year)s?(?: ago)?|a (fortnight))", phrase)
    if found is None:
        return None
    if found.group(3):
        return said + timedelta(days=14), _DAY
    count = _count(found.group(1))
    if count is None:
        return None
    days = count * _UNIT_DAYS[found.group(2)]
    sign = -1 if phrase.endswith(" ago") else 1
    precision = _DAY if found.group(2) in {"day", "week"} else _MONTH_ONLY
    return said + timedelta(days=sign * days), precision


def _count(word: str) -> int | None:
    return int(word) if word.isdigit() else _NUMBERS.get(word)


def _weekday_ahead(phrase: str, said: datetime) -> Resolved | None:
    words = phrase.split()
    day = next((w for w in words if w in WEEKDAYS), None)
    if day is None:
        return None
    ahead = (WEEKDAYS.index(day) - said.weekday()) % 7 or 7
    return said + timedelta(days=ahead + (7 if words[0] == "next" else 0)), _DAY


def _weekday_back(phrase: str, said: datetime) -> Resolved | None:
    day = next((w for w in phrase.split() if w in WEEKDAYS), None)
    if day is None:
        return None
    back = (said.weekday() - WEEKDAYS.index(day)) % 7 or 7
    return said - timedelta(days=back), _DAY


def _ordinal(phrase: str, said: datetime, ahead: bool) -> Resolved | None:
    day = re.search(r"\d{1,2}(?!\d)", phrase)
    month = next((m for m in MONTHS if re.search(rf"\b{m}\b", phrase)), None)
    if day is None or re.search(r"\d{3}", phrase):
        return None
    number = MONTHS.index(month) + 1 if month else said.month
    try:
        date = said.replace(month=number, day=int(day.group()))
        if ahead and date.date() < said.date():
            date = _add_months(date, 1) if month is None else date.replace(year=date.year + 1)
        if not ahead and date.date() > said.date():
            date = _add_months(date, -1) if month is None else date.replace(year=date.year - 1)
    except ValueError:  # "the 31st" in a 30-day month
        return None
    return date, _DAY


def _month(phrase: str, said: datetime, ahead: bool) -> Resolved | None:
    words = phrase.replace("-", " ").split()
    month = next((w for w in words if w in MONTHS), None)
    if month is None:
        return None
    number = MONTHS.index(month) + 1
    year = words[-1] if words[-1].isdigit() else None
    if year is not None:
        return said.replace(year=int(year), month=number, day=1), _MONTH_ONLY
    shift = (number < said.month) if ahead else -(number > said.month)
    return said.replace(year=said.year + shift, month=number, day=1), _MONTH_ONLY


def _season(phrase: str, said: datetime, ahead: bool) -> Resolved | None:
    words = phrase.split()
    if words[-1] not in _SEASON_MONTHS:
        return None
    number = _SEASON_MONTHS[words[-1]] + (_SHIFT.get(words[0], 0) if len(words) > 1 else 0)
    year = said.year + (number - 1) // 12
    number = (number - 1) % 12 + 1
    date = said.replace(year=year, month=number, day=1)
    if ahead and (date.year, date.month) < (said.year, said.month):
        date = date.replace(year=date.year + 1)
    if not ahead and (date.year, date.month) > (said.year, said.month):
        date = date.replace(year=date.year - 1)
    return date, _MONTH_ONLY


def _fixed_back(phrase: str, said: datetime) -> Resolved | None:
    saturday = (said.weekday() - 5) % 7 or 7
    days = {
        "yesterday": 1,
        "last night": 1,
        "this morning": 0,
        "earlier today": 0,
        "last week": 7,
        "last weekend": saturday,
        "the weekend": saturday,
    }
    if phrase.startswith("yesterday"):
        return said - timedelta(days=1), _DAY
    if phrase in days:
        return said - timedelta(days=days[phrase]), _DAY
    if phrase == "last month":
        return _add_months(said, -1), _MONTH_ONLY
    if phrase == "last year":
        return said.replace(year=said.year - 1, day=1), _YEAR
    found = re.fullmatch(r"in ((?:19|20)\d\d)|((?:19|20)\d\d)", phrase)
    if found:
        return said.replace(year=int(found.group(1) or found.group(2)), day=1), _YEAR
    return None


def _add_months(date: datetime, months: int) -> datetime:
    index = date.year * 12 + date.month - 1 + months
    return date.replace(year=index // 12, month=index % 12 + 1, day=1)


def _last(parser: Callable[[str, datetime, bool], Resolved | None]) -> Parser:
    return lambda phrase, said: parser(phrase.removeprefix("last "), said, False)


_AHEAD: tuple[Parser, ...] = (
    _fixed_ahead,
    _in_count,
    lambda phrase, said: _ordinal(phrase, said, True) if re.search(r"\d", phrase) else None,
    _weekday_ahead,
    lambda phrase, said: _season(phrase, said, True),
    lambda phrase, said: _month(phrase, said, True),
)
_BACK: tuple[Parser, ...] = (
    _fixed_back,
    _in_count,
    _weekday_back,
    _last(_season),
    _last(_month),
)
