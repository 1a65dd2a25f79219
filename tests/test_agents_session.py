"""The OpenAI Agents SDK's `Session` over memstrata, with the real `openai-agents` package
against a real `memstrata serve`: items of every shape round-trip unchanged, `limit` gives
the latest, `pop_item` takes back the last message, `clear_session` starts afresh while the
memory stays, and an agent run through the SDK's `Runner` (its model the OpenAI stand-in,
through the real `openai` SDK) keeps its turns in memstrata and is told what memstrata
knows."""

import uuid
from typing import Any

from agents import Agent, OpenAIChatCompletionsModel, Runner, set_tracing_disabled
from agents.memory import Session
from openai import AsyncOpenAI

from integrations.agents_session import MemstrataSession, memory_instructions
from service.client import MemstrataClient
from tests.openai_standin import StandIn, chat
from tests.openai_standin import serve as serve_standin
from tests.services import Serve

ITEMS: list[Any] = [
    {"role": "user", "content": "I live in Porto and I'm allergic to peanuts."},
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "output_text", "text": "Noted!", "annotations": []},
            {"type": "output_text", "text": "Anything else?\n\nAsk away.", "annotations": []},
        ],
    },
    {
        "type": "function_call",
        "call_id": "call_1",
        "name": "weather",
        "arguments": '{"city": "Porto"}',
        "id": "fc_1",
        "status": "completed",
    },
    {"type": "function_call_output", "call_id": "call_1", "output": '{"sky": "clear"}'},
    {"role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
    {"role": "user", "content": ""},  # no text: stored whole
]


async def test_items_round_trip_and_pop_and_clear(serve: Serve, fresh_database: str) -> None:
    service, key = await serve(fresh_database)
    async with MemstrataClient(service.url, key) as client:
        session = MemstrataSession(client, "ana", "trip_planning")
        assert isinstance(session, Session)
        assert await session.get_items() == [] and await session.pop_item() is None
        await session.add_items(ITEMS)
        assert await session.get_items() == ITEMS
        assert await session.get_items(limit=2) == ITEMS[-2:]
        assert await session.get_items(limit=0) == []
        # The message text is what memstrata reads: recall finds it.
        hits = await client.recall("ana", "peanut allergy", k=3)
        assert any("peanuts" in h.text for h in hits)
        (stored,) = await client.sessions("ana", thread="trip_planning")
        assert stored.turns == len(ITEMS)

        assert await session.pop_item() == ITEMS[-1]
        assert await session.get_items() == ITEMS[:-1]
        await session.add_items([{"role": "user", "content": "One more thing."}])
        listed = await client.transcript("ana", str(stored.id))
        assert [m.seq for m in listed] == list(range(1, len(ITEMS) + 1)), "gapless"

        other = MemstrataSession(client, "ana", "work")  # another conversation of hers
        assert await other.get_items() == []
        await session.clear_session()
        assert await session.get_items() == []
        await session.add_items([{"role": "user", "content": "Fresh start."}])
        assert await session.get_items() == [{"role": "user", "content": "Fresh start."}]
        threads = await client.sessions("ana", thread="trip_planning")
        assert [s.status for s in threads] == ["active", "hard_expired"]
        hits = await client.recall("ana", "where does she live", k=5)
        assert any("Porto" in h.text for h in hits), "clearing the session keeps the memory"


async def test_an_agent_run_keeps_its_turns_and_knows_the_user(
    serve: Serve, fresh_database: str
) -> None:
    set_tracing_disabled(True)
    service, key = await serve(fresh_database)
    standin = StandIn(script=[chat("Hello Ana! Peanut-free it is."), chat("Lisbon, then.")])
    with serve_standin(standin) as llm:
        async with MemstrataClient(service.url, key) as client:
            await client.remember("ana", "profile", "Is allergic to peanuts", pinned=True)
            model = OpenAIChatCompletionsModel(
                model="stand-in", openai_client=AsyncOpenAI(base_url=llm.base_url, api_key="x")
            )
            agent = Agent(
                name="assistant",
                instructions=memory_instructions(client, "ana", "You are a helpful assistant."),
                model=model,
            )
            session = MemstrataSession(client, "ana", str(uuid.uuid4()))
            first = await Runner.run(agent, "Hi! Any snack ideas?", session=session)
            assert first.final_output == "Hello Ana! Peanut-free it is."
            second = await Runner.run(agent, "I moved to Lisbon.", session=session)
            assert second.final_output == "Lisbon, then."
            items = await session.get_items()
    texts = [str(i.get("content")) for i in items]
    assert "Hi! Any snack ideas?" in texts[0] and "Lisbon, then." in texts[-1]
    assert len(items) == 4
    # The second call sent the first exchange back as history, and every call was told
    # what memstrata knows about the user.
    (_, last_call) = standin.requests[-1]
    sent = [m["content"] for m in last_call["messages"]]
    assert "Hi! Any snack ideas?" in sent and "Hello Ana! Peanut-free it is." in sent
    assert "allergic to peanuts" in str(last_call["messages"][0]["content"])
