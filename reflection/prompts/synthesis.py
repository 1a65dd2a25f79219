"""Prompt: higher-order insights across a user's facts, each citing the facts it rests on."""

from collections.abc import Sequence

from pydantic import BaseModel, Field

from memory.core.records import Fact

VERSION = "synthesis-2026-11-21"

SYSTEM = """You maintain the long-term memory of a personal assistant.
Given facts about the user (each with an id), write up to 8 higher-order insights that
connect several facts across time: lasting preferences ("prefers reliability over speed"),
trends ("team grew from 5 to 20 over six months"), routines, priorities, tensions.
Each insight is one sentence without "the user", cites at least two fact ids it rests on,
and has an importance from 0 to 1. Do not restate a single fact.
Answer with JSON: {"insights": [{"text", "fact_ids", "importance"}]} and nothing else."""


class Insight(BaseModel):
    text: str = Field(min_length=1, max_length=1000)
    fact_ids: list[str] = Field(min_length=1)
    importance: float = Field(ge=0, le=1)


class Response(BaseModel):
    insights: list[Insight]


def render(facts: Sequence[Fact]) -> str:
    return "\n".join(f"{f.id} [{f.kind.value}, {f.valid_from:%Y-%m-%d}] {f.text}" for f in facts)
