"""A small assistant on the OpenAI Agents SDK whose conversation and memory live in
memstrata: each turn goes through `Runner.run` with a `MemstrataSession`, and the agent's
instructions carry what memstrata knows about the user.

    MEMSTRATA_URL=http://127.0.0.1:8421 MEMSTRATA_API_KEY=ms_… \\
    OPENAI_API_KEY=sk-… [OPENAI_BASE_URL=…] [MODEL=gpt-4o-mini] \\
    python examples/agents_assistant.py alice "Hi, I live in Porto." "Where do I live?"

Each argument after the user id is one turn (none: read turns from standard input). Any
OpenAI-compatible endpoint works through `OPENAI_BASE_URL` (chat completions)."""

import asyncio
import os
import sys

from agents import Agent, OpenAIChatCompletionsModel, Runner, set_tracing_disabled
from openai import AsyncOpenAI

from integrations.agents_session import MemstrataSession, memory_instructions
from service.client import MemstrataClient


async def main(user_id: str, turns: list[str]) -> None:
    set_tracing_disabled(True)  # nothing leaves for OpenAI's trace store
    model = OpenAIChatCompletionsModel(
        model=os.environ.get("MODEL", "gpt-4o-mini"),
        openai_client=AsyncOpenAI(base_url=os.environ.get("OPENAI_BASE_URL")),
    )
    url, key = os.environ["MEMSTRATA_URL"], os.environ["MEMSTRATA_API_KEY"]
    async with MemstrataClient(url, key) as memory:
        agent = Agent(
            name="assistant",
            instructions=memory_instructions(memory, user_id, "You are a helpful assistant."),
            model=model,
        )
        session = MemstrataSession(memory, user_id, session_id="chat")
        for text in turns:
            result = await Runner.run(agent, text, session=session)
            print(f"user: {text}\nassistant: {result.final_output}")  # noqa: T201


if __name__ == "__main__":
    given = sys.argv[2:] or [line.strip() for line in sys.stdin if line.strip()]
    asyncio.run(main(sys.argv[1], given))
