"""Redaction before extraction: sensitive spans of a message are replaced by a placeholder
(`[email]`, `[iban]`, `[secret]`, `[card]`, `[national_id]`, `[phone]`, or `[<name>]` for a
tenant's own pattern) before any extractor — rules or an LLM — reads it, so facts, knowledge,
summaries and the journal never hold them. The raw transcript keeps the user's words
(retention and encryption at rest govern it). Pure functions.

Every pattern runs on RE2, in time linear in the message whatever the pattern or the text.
RE2 has no lookaround: a built-in pattern matches the character before and after its `body`
group instead, and only the body is replaced."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

from memory.core.records import Message
from memory.core.settings import compile_redact_pattern

# Searches of one pattern in one message. RE2 is linear per search, but a pattern can make
# each search scan to the end of the text; past this many the rest of the message is
# replaced by the placeholder, so the bound holds and nothing is let through unredacted.
MAX_SEARCHES = 1000

# Decides how many leading characters of a matched body are sensitive (0: none of them).
Decide = Callable[[str], int]


def _all(body: str) -> int:
    return len(body)


@dataclass(frozen=True)
class Rule:
    """A compiled pattern whose group `group` is replaced by `placeholder` when `decide`
    says so; what else it matched (a lead-in, the characters around it) stays."""

    placeholder: bytes
    pattern: Any  # an RE2 regexp; re2 ships no types
    group: int
    decide: Decide = _all


def _rule(kind: str, pattern: str, decide: Decide = _all) -> Rule:
    compiled = compile_redact_pattern(pattern)
    return Rule(f"[{kind}]".encode(), compiled, int(compiled.groupindex["body"]), decide)


def _framed(
    body: str, not_before: str | None = None, not_after: str | None = None, lead: str = ""
) -> str:
    """`body` after `lead`, not preceded by a character of the class `not_before` nor
    followed by one of `not_after`: RE2's stand-in for `(?<![..])body(?![..])`."""
    before = "" if not_before is None else f"(?:^|[^{not_before}])"
    after = "" if not_after is None else f"(?:[^{not_after}]|$)"
    return f"{lead}{before}(?P<body>{body}){after}"


_WORD = r"\pL\pN_"  # a word character in any script, as Python's `\w`

# --- emails, phones, cards ------------------------------------------------------------------

_EMAIL = _framed(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", rf"{_WORD}.+\-"
)
# International numbers with a leading +, and the common national shapes (3-3-4 with
# separators, or 10-11 digits in a row); dates such as 2024-05-08 match none of them.
_PHONE = _framed(
    r"\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)|\d{1,4})(?:[\s.-]?\d{2,4}){2,4}"
    r"|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}"
    r"|\d{10,11}",
    rf"{_WORD}+",
    _WORD,
)
# 13 to 19 digits, optionally grouped by spaces or dashes; kept only if the Luhn check holds.
_CARD = _framed(r"\d(?:[ -]?\d){12,18}", r"\d\-", r"\d\-")


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(body: str) -> int:
    return len(body) if luhn_ok("".join(c for c in body if c.isdigit())) else 0


# --- national ids ---------------------------------------------------------------------------

# SSN-like 3-2-4 digits with one kind of separator; dates are 4-2-2 and phones 3-3-4.
_NATIONAL_ID = _framed(r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}", rf"{_WORD}+\-./", rf"{_WORD}\-")


def _national_id(body: str) -> int:
    """No group of an issued number is all zeros."""
    groups = body.replace("-", " ").split()
    return 0 if any(set(group) == {"0"} for group in groups) else len(body)


# --- IBANs ----------------------------------------------------------------------------------

# Country, two check digits, 11-30 letters or digits: in one run, or in groups of four
# separated by spaces with a shorter last group.
_IBAN = _framed(
    r"[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)", _WORD, _WORD
)


def iban_ok(iban: str) -> bool:
    """ISO 13616: the first four characters moved to the end, letters as 10..35, mod 97 is 1."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isascii() or not compact.isalnum():
        return False
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def _iban(body: str) -> int:
    """The longest valid IBAN at the start of `body`: a grouped match may have taken a
    following word of four capitals ("… 3201 FROM") as a last group."""
    cut = len(body)
    while cut > 0:
        if iban_ok(body[:cut]):
            return cut
        cut = body.rfind(" ", 0, cut)
    return 0


# --- secrets --------------------------------------------------------------------------------

_TOKEN = r"A-Za-z0-9_\-"
# Keys and tokens of known shapes: OpenAI/Anthropic `sk-…`, GitHub `ghp_…`/`github_pat_…`,
# AWS access key ids, Slack `xox?-…`, and JWTs.
_KEY_SHAPES = _framed(
    rf"sk-[{_TOKEN}]{{20,}}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|xox[bpars]-[A-Za-z0-9\-]{10,}"
    rf"|eyJ[{_TOKEN}]{{8,}}\.eyJ[{_TOKEN}]{{8,}}\.[{_TOKEN}]*",
    rf"{_WORD}\-",
    rf"{_WORD}\-",
)
_BEARER = _framed(r"[A-Za-z0-9._~+/\-]{8,}=*", None, rf"{_WORD}\-", r"\b(?i:bearer)\s+")
# A secret stated in words: "my password is hunter2", "password: x", "pwd=…", "the
# passphrase for the vault is '…'". The lead-in stays, the value goes.
_SAID_SECRET = (
    r"(?i)\b(?:pass(?:word|phrase|code)s?|passwd|pwd)"
    r"(?:\s+(?:for|to|of|on|at|in)(?:\s+[^\s:=]+){1,3}?)?"  # "for my bank account"
    r"(?:\s*[:=]\s*|(?:'s|\s+(?:is|was|are|will\s+be|to|as))"
    r"(?:\s+(?:now|still|just|actually|currently))?\s*:?\s+)"
    r"""(?P<body>"[^"\n]{1,200}"|'[^'\n]{1,200}'|[^\s\[]\S*)"""
)
# "the PIN is 4321", "PIN: 0000", "pin code 1234": digits only, so a map pin is not a secret.
_SAID_PIN = _framed(
    r"\d{3,12}",
    None,
    _WORD,
    r"(?i)\bpin(?:\s+(?:code|number))?"
    r"(?:\s*[:=#]\s*|\s+|(?:\s+(?:for|to|of|on|at)(?:\s+\S+){1,3}?)?"
    r"\s+(?:is|was|will\s+be)(?:\s+(?:now|still|just|actually))?\s*:?\s+)",
)
# Long runs of letters, digits, `_`, `-`, `+`, `=` (base64 and hex keys, licence codes).
_LONG_TOKEN = _framed(r"[A-Za-z0-9_+=\-]{32,}", rf"{_WORD}+=\-", rf"{_WORD}+=\-")
_UUID = compile_redact_pattern(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")

# Words that follow "password is" in ordinary talk ("the password is wrong").
_NOT_SECRETS = frozenset(
    """
a an the my your his her their our its this that it me you him them us not no too also
so very just still now wrong incorrect invalid expired required weak case case-sensitive
missing empty blank same different reset changed new old set saved stored hidden encrypted
and or but for on in at of with be been what which forgotten lost locked needed optional
""".split()  # noqa: SIM905 - a word list reads better as text than as quoted strings
)


def _said_secret(body: str) -> int:
    """The value without trailing sentence punctuation, unless it is an ordinary word."""
    if body[:1] in "\"'":
        return len(body)
    value = body.rstrip(".,;:!?)]}\"'")
    return 0 if value.lower() in _NOT_SECRETS else len(value)


def _bearer(body: str) -> int:
    """A real token mixes letters and digits ("Bearer authentication" is prose)."""
    mixed = any(c.isdigit() for c in body) and any(c.isalpha() for c in body)
    return len(body) if mixed else 0


def _random_looking(body: str) -> int:
    """Letters and digits side by side at least four times ("a1b2…", not "release_2024"),
    and not a UUID, which names a thing rather than unlocking it."""
    if _UUID.fullmatch(body) is not None:
        return 0
    switches = sum(
        1
        for left, right in pairwise(body)
        if left.isalnum() and right.isalnum() and left.isdigit() != right.isdigit()
    )
    return len(body) if switches >= 4 else 0


# Kinds in the order they run: emails first (a long token would take an address's local
# part), an IBAN and secrets before cards and phones (their digits would be read as either),
# a card before phones (it would be half-eaten as one).
_RULES: dict[str, tuple[Rule, ...]] = {
    "email": (_rule("email", _EMAIL),),
    "iban": (_rule("iban", _IBAN, _iban),),
    "secret": (
        _rule("secret", _KEY_SHAPES),
        _rule("secret", _BEARER, _bearer),
        _rule("secret", _SAID_SECRET, _said_secret),
        _rule("secret", _SAID_PIN),
        _rule("secret", _LONG_TOKEN, _random_looking),
    ),
    "card": (_rule("card", _CARD, _card),),
    "national_id": (_rule("national_id", _NATIONAL_ID, _national_id),),
    "phone": (_rule("phone", _PHONE),),
}
_CONTINUATION = 0b1100_0000  # UTF-8 bytes 10xxxxxx continue a character


def _next_char(data: bytes, index: int) -> int:
    index += 1
    while index < len(data) and data[index] & _CONTINUATION == 0b1000_0000:
        index += 1
    return index


def _apply(rule: Rule, data: bytes) -> bytes:
    """`data` (UTF-8) with every span the rule decides on replaced by its placeholder."""
    pieces: list[bytes] = []
    done = pos = 0
    for _ in range(MAX_SEARCHES):
        match = rule.pattern.search(data, pos)
        if match is None:
            break
        start, end = (int(i) for i in match.span(rule.group))
        if start == end:  # an empty match replaces nothing; step past one character
            if start >= len(data):
                break
            pos = _next_char(data, start)
            continue
        body = data[start:end].decode("utf-8", "surrogatepass")
        sensitive = rule.decide(body)
        if sensitive:
            end = start + len(body[:sensitive].encode("utf-8", "surrogatepass"))
            pieces += [data[done:start], rule.placeholder]
            done = end
        pos = end
    else:
        pieces += [data[done:pos], rule.placeholder]
        done = len(data)
    pieces.append(data[done:])
    return b"".join(pieces)


class Redactor:
    """The built-in `kinds` and the named `patterns` (validated by the settings)."""

    def __init__(self, kinds: Iterable[str], patterns: Mapping[str, str]) -> None:
        chosen = frozenset(kinds)
        self._rules = [rule for kind, rules in _RULES.items() if kind in chosen for rule in rules]
        self._rules += [
            Rule(f"[{name}]".encode(), compile_redact_pattern(pattern), 0)
            for name, pattern in patterns.items()
        ]

    def redact(self, text: str) -> str:
        if not self._rules:
            return text
        data = text.encode("utf-8", "surrogatepass")
        for rule in self._rules:
            data = _apply(rule, data)
        return data.decode("utf-8", "surrogatepass")

    def messages(self, messages: Iterable[Message]) -> list[Message]:
        """Copies of the messages with their content redacted; the stored ones are untouched."""
        return [replace(m, content=self.redact(m.content)) for m in messages]
