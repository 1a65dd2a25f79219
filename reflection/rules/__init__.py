"""Rule-based extraction, the offline default: deterministic patterns over what the user
says about themselves — who they are and where they live, their health, the people and pets
in their life, likes and dislikes, plans with dates, events, decisions — and the questions
they asked that are still open. Precise rather than exhaustive: a pattern that fires should
be right. Only the user's own messages are read; what the assistant says is never a fact
about the user.

Bounded on any input: every capture has a maximum length and no pattern nests unbounded
repetition, so each pattern does bounded work per position of a message, and a message stops
being scanned after `MAX_FACTS_SCANNED`. One module per kind of fact; `scan` runs them."""

from reflection.rules.base import RuleFact
from reflection.rules.scan import MAX_FACTS_SCANNED, extract_rules

__all__ = ["MAX_FACTS_SCANNED", "RuleFact", "extract_rules"]
