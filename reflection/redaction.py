"""Redaction before extraction: sensitive spans of a message are replaced by a placeholder
(`[email]`, `[phone]`, `[card]`, or `[<name>]` for a tenant's own pattern) before any
extractor — rules or an LLM — reads it, so facts, knowledge, summaries and the journal never
hold them. The raw transcript keeps the user's words (retention and encryption at rest
govern it). Pure functions."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from memory.records import Message

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# International numbers with a leading +, and the common national shapes (3-3-4 with
# separators, or 10-11 digits in a row); dates such as 2024-05-08 match none of them.
PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)|\d{1,4})(?:[\s.-]?\d{2,4}){2,4}"
    r"|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}"
    r"|\d{10,11}"
    r")(?!\w)"
)
# 13 to 19 digits, optionally grouped by spaces or dashes; kept only if the Luhn check holds.
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _cards(text: str) -> str:
    def swap(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return "[card]" if luhn_ok(digits) else match.group()

    return CARD.sub(swap, text)


class Redactor:
    """The built-in `kinds` and the named `patterns` (validated by the settings)."""

    def __init__(self, kinds: Iterable[str], patterns: Mapping[str, str]) -> None:
        self._kinds = frozenset(kinds)
        self._patterns = {name: re.compile(p) for name, p in patterns.items()}

    def redact(self, text: str) -> str:
        # Cards before phones: a card number would otherwise be half-eaten as a phone.
        if "card" in self._kinds:
            text = _cards(text)
        if "email" in self._kinds:
            text = EMAIL.sub("[email]", text)
        if "phone" in self._kinds:
            text = PHONE.sub("[phone]", text)
        for name, pattern in self._patterns.items():
            text = pattern.sub(f"[{name}]", text)
        return text

    def messages(self, messages: Iterable[Message]) -> list[Message]:
        """Copies of the messages with their content redacted; the stored ones are untouched."""
        return [replace(m, content=self.redact(m.content)) for m in messages]
