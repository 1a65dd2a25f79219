"""Decision rules: what the user has settled on — "I've decided to…", "we're going with the
barn", "let's go with the wellington", "we opted for…" — dated by when it was said."""

import re

from memory.core.domain import FactKind
from reflection.rules.base import Rule, RuleFact, Said, clean, fact, first, said_on

_DECISION = re.compile(
    r"\b(?:i|we)(?:'ve| have)? (?:finally |just |now |already )?decided (?:to |that |on )?"
    r"(?P<x>[^.;!?]{3,100})"
    r"|\b(?:let's|let us|i'll|i will|we'll|we will|i'm going to|we're going to|i'm gonna"
    r"|we're gonna|i think we'll|i think i'll) go with (?P<y>[^.;!?]{2,80})"
    r"|\b(?:i|we)(?:'re| are|'m| am) (?:going|gonna go) with (?P<v>[^.;!?]{2,80})"
    r"|(?:^|, )going with (?P<u>[^.;!?]{2,80})"
    r"|\b(?:i|we)(?:'ve| have) (?:finally )?(?:chosen|picked|gone for|gone with|settled on"
    r"|opted for|plumped for) (?P<z>[^.;!?]{2,80})"
    # "ok decided, taking the Ledgerly offer": the decision is the next clause.
    r"|\bdecided[,:!]+ (?!(?:i|we|to|on|that)\b)(?P<s>[^.;!?]{3,100})"
    r"|\b(?:i|we)(?:'m| am|'re| are) (?:taking|accepting) (?P<r>the [^.;!?]{2,60}? offer)\b"
    r"|\b(?:i|we) (?:finally )?(?:chose|opted for|settled on|went with) (?P<w>[^.;!?]{2,80})"
    r"|\b(?:i|we)(?:'ve| have) made up (?:my|our) minds?(?: to| and| -|:)? (?P<t>[^.;!?]{2,80})"
    # One thing over another: "im gonna lease one instead of buying".
    r"|(?:\b(?:i|we)(?:'m| am|'re| are)? |^|(?<=[,.] ))(?:gonna|going to|will|'ll)"
    r" (?P<i>[^,.;!?]{2,80}? (?:instead of|rather than) [^,.;!?]{2,40})"
    # A choice not to: "i'm not taking the team lead role", "we're not renewing the lease".
    r"|\b(?:i|we)(?:'m| am|'re| are) (?P<n>not (?:taking|renewing|accepting|doing|going ahead"
    r" with|going for|signing|extending) [^,.;!?]{2,60})"
    r"|\b(?:i|we)(?:'m| am|'re| are|'ve| have) (?P<d>(?:turning|turned) down [^,.;!?]{2,60}"
    r"|(?:declining|declined|passing on|passed on|quitting|quit) (?:the|my|our|this|that)"
    r" [^,.;!?]{2,60})"
    # "we've went wi an agency called bluebell care": "wi" as people say "with".
    r"|\b(?:i|we)(?:'ve| have)? (?:went|gone) (?:with|wi) (?P<q>[^.;!?]{2,80})",
    re.IGNORECASE,
)
# "I'm going with my sister": company, not a choice.
_COMPANY = re.compile(
    r"^(?:my|our|his|her|their|him|them|you|friends|family|mum|mom|dad|some|a friend"
    r"|a group|the kids|the family|the others|everyone)\b",
    re.IGNORECASE,
)


# "not taking the role" -> "not to take the role", "turning down" -> "to turn down".
_INFINITIVES = {
    "taking": "to take",
    "renewing": "to renew",
    "accepting": "to accept",
    "doing": "to do",
    "going": "to go",
    "signing": "to sign",
    "extending": "to extend",
    "turning": "to turn",
    "turned": "to turn",
    "declining": "to decline",
    "declined": "to decline",
    "passing": "to pass",
    "passed": "to pass",
    "quitting": "to quit",
    "quit": "to quit",
}


def _infinitive(phrase: str) -> str:
    """ "not taking the role" -> "not to take the role"; "turning down X" -> "to turn down X"."""
    words = phrase.split(" ")
    at = 1 if words[0].lower() == "not" else 0
    words[at] = _INFINITIVES.get(words[at].lower(), words[at])
    return " ".join(words)


def _decision(match: re.Match[str], said: Said) -> list[RuleFact]:
    chosen = first(match)
    going_with = first(match, "y", "v", "u", "w", "q")
    if not chosen or (going_with and _COMPANY.match(going_with)):
        return []
    # "decided to hire a walker" → "Decided to …"; a thing chosen → "Chose …". A plain
    # statement: no lead that another tier would have to strip.
    verb = "Decided to" if match.group("x") or match.group("t") or match.group("i") else "Chose"
    if match.group("n") or match.group("d"):
        verb = "Decided"
        chosen = _infinitive(chosen)
    if match.group("s"):  # "decided, bonus is going into an ISA": a clause of its own
        verb = "Decided on" if chosen.split()[0].lower().endswith("ing") else "Decided that"
    phrase = clean(chosen)
    if verb == "Decided to" and phrase.lower().startswith(("to ", "on ", "that ", "against ")):
        verb = "Decided"
    text = f"{verb} {phrase} ({said_on(said.message)})"
    return fact(FactKind.DECISION, text, None, 0.7, 0.8, said.message)


RULES = (Rule(_DECISION, _decision),)
