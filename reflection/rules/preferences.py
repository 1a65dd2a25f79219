"""Preference rules: what the user likes, prefers, dislikes and counts as a favourite. A like
and a dislike of the same thing share the attribute "preference:<thing>", so a change of
mind supersedes."""

import re

from memory.core.domain import FactKind
from reflection.rules.base import ADVERBS, PHRASE, Rule, RuleFact, Said, article, clean, fact

# A like may run on past a comma when what follows is not a new clause: "I love slow, quiet
# literary stuff" is one thing; "I love coffee, I drink three cups" is not.
_MORE = (
    r"(?:, (?!(?:i|it|we|they|he|she|you|so|but|and|which|that|though|especially|like|or"
    r"|because|as|if|when|then|lol|haha|tbh)\b)" + PHRASE + r")?"
)
_DISLIKE = re.compile(
    r"\bi(?:'m| am)? " + ADVERBS + r"(?:hate|dislike|detest|loathe|can't stand|cannot stand"
    r"|can't bear|cannot bear|don't like|do not like|no longer like|don't really like"
    r"|really don't like|don't enjoy|do not enjoy|never liked|not a fan of|not a big fan of"
    r"|not keen on|not big on|not into|not a huge fan of)"
    r" (?P<x>" + PHRASE + _MORE + r")",
    re.IGNORECASE,
)
_NOT_THINGS = frozenset(
    {"to", "it", "that", "this", "you", "how", "when", "your", "yours", "him", "her", "them"}
    | {"both", "the idea", "being", "having", "doing", "what", "where", "if", "whether"}
)
# "I prefer the second one": a choice among what was just offered, not a lasting taste.
_OFFERED = re.compile(r"\b(?:one|ones|option|options|version|idea|suggestion)$", re.IGNORECASE)


def _thing(phrase: str) -> str | None:
    thing = clean(phrase)
    if not thing or thing.lower().split()[0] in _NOT_THINGS or thing.lower() in _NOT_THINGS:
        return None
    if _OFFERED.search(thing):
        return None
    return thing


def _dislike(match: re.Match[str], said: Said) -> list[RuleFact]:
    thing = _thing(match.group("x"))
    if thing is None:
        return []
    attribute = f"preference:{thing.lower()}"
    return fact(FactKind.PREFERENCE, f"Dislikes {thing}", attribute, 0.5, 0.7, said.message)


_LIKE = re.compile(
    r"\bi (?!don't |do not |no longer )" + ADVERBS + r"(?P<v>love|like|enjoy|adore|prefer)"
    r" (?P<x>" + PHRASE + _MORE + r")"
    r"|\bi(?:'m| am) " + ADVERBS + r"(?:(?:a )?(?:big |huge |massive )?fan of|into|obsessed with"
    r"|passionate about|crazy about|mad about)(?P<f> )(?P<y>" + PHRASE + _MORE + r")",
    re.IGNORECASE,
)


def _like(match: re.Match[str], said: Said) -> list[RuleFact]:
    thing = _thing(match.group("x") or match.group("y"))
    if thing is None:
        return []
    verb = (match.group("v") or "").lower()
    text = f"Prefers {thing}" if verb == "prefer" else f"Likes {thing}"
    return fact(FactKind.PREFERENCE, text, f"preference:{thing.lower()}", 0.5, 0.7, said.message)


_WHAT = r"[a-z][a-z\- ]{1,30}?"
_FAVOURITE = re.compile(
    r"\b(?i:my) (?:all-time |absolute |current |very )?favou?rite (?P<cat>" + _WHAT + r")"
    r" (?:is|are|has to be|would be|at the moment is) (?P<x>" + PHRASE + r")"
    r"|\b(?P<y>[A-Z][\w'-]{1,30}(?: [A-Z][\w'-]{1,30}){0,3}(?: [a-z][\w'-]{1,30}){0,2}"
    r"|(?i:the )?[a-z][\w'-]{1,30})"
    r" (?:is|are) (?:still |definitely )?my (?:all-time |absolute |very )?(?:favou?rite)"
    r"(?: (?P<cat2>[a-z][a-z\-]{1,20}(?: [a-z][a-z\-]{1,20})?))?\b",
)


def _favourite(match: re.Match[str], said: Said) -> list[RuleFact]:
    thing = _thing(match.group("x") or match.group("y"))
    category = clean(match.group("cat") or match.group("cat2") or "").lower()
    if thing is None or thing.lower() in {"it", "this", "that", "which", "what"}:
        return []
    text = f"Favourite {category} is {thing}" if category else f"Has {thing} as a favourite"
    attribute = f"favourite:{category}" if category else f"preference:{thing.lower()}"
    return fact(FactKind.PREFERENCE, text, attribute, 0.5, 0.7, said.message)


_PERSON_TYPE = re.compile(
    r"\bi(?:'m| am) (?P<no>not )?(?:really |definitely |very much |much |more of |not much of )?"
    r"an? (?P<x>[a-z][\w-]{1,20}(?: [a-z][\w-]{1,20})?) person\b",
    re.IGNORECASE,
)


def _person_type(match: re.Match[str], said: Said) -> list[RuleFact]:
    kind = match.group("x").lower()
    text = f"Is {'not ' if match.group('no') else ''}{article(kind)} person"
    return fact(FactKind.PREFERENCE, text, f"preference:{kind} person", 0.5, 0.7, said.message)


RULES = (
    Rule(_DISLIKE, _dislike),
    Rule(_LIKE, _like),
    Rule(_FAVOURITE, _favourite),
    Rule(_PERSON_TYPE, _person_type),
)
