"""The MCP server answers a real MCP client session over stdio: a `memstrata mcp` process
speaking the protocol on its standard input and output."""

import os
import sys
import uuid

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult


def payload(result: CallToolResult) -> object:
    """The tool's structured answer (a list comes wrapped as {"result": [...]})."""
    assert not result.is_error, result.content
    structured = result.structured_content
    assert structured is not None
    return structured.get("result", structured)


async def test_remember_recall_resume_forget_over_stdio(fresh_database: str) -> None:
    env = {
        **os.environ,
        "MEMSTRATA_DATABASE_URL": fresh_database,
        "MEMSTRATA_MCP__TENANT": "acme",
        "MEMSTRATA_MCP__USER": "alice",
        "HF_HUB_OFFLINE": "1",
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from service.cli import app; app()", "mcp"],
        env=env,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert names == {
            "remember",
            "recall",
            "resume",
            "forget",
            "list_memories",
            "add_memory",
            "correct_memory",
            "delete_memory",
            "pin_memory",
        }
        stored = payload(
            await session.call_tool("remember", {"content": "My cat Miso loves tuna."})
        )
        assert stored["seq"] == 1  # type: ignore[index]
        hits = payload(await session.call_tool("recall", {"query": "Miso tuna", "k": 3}))
        assert "Miso" in str(hits)
        context = payload(await session.call_tool("resume", {"message": "hi"}))
        assert context["mode"] == "full_restore"  # type: ignore[index]
        # One memory by hand: added pinned, corrected, unpinned, deleted.
        added = payload(
            await session.call_tool(
                "add_memory", {"kind": "profile", "text": "Is vegetarian", "pin": True}
            )
        )
        assert added["pinned"] is True  # type: ignore[index]
        fixed = payload(
            await session.call_tool(
                "correct_memory",
                {"fact_id": added["id"], "text": "Is vegan"},  # type: ignore[index]
            )
        )
        listed = payload(await session.call_tool("list_memories", {"kind": "profile"}))
        assert [m["text"] for m in listed] == ["Is vegan"]  # type: ignore[attr-defined]
        unpinned = payload(
            await session.call_tool("pin_memory", {"fact_id": fixed["id"], "pinned": False})  # type: ignore[index]
        )
        assert unpinned["pinned"] is False  # type: ignore[index]
        await session.call_tool("delete_memory", {"fact_id": fixed["id"]})  # type: ignore[index]
        assert payload(await session.call_tool("list_memories", {"kind": "profile"})) == []
        unknown = await session.call_tool("delete_memory", {"fact_id": str(uuid.uuid4())})
        assert unknown.is_error and "not found" in str(unknown.content)
        refused = payload(await session.call_tool("forget", {"confirm": False}))
        assert refused["forgotten"] is False  # type: ignore[index]
        assert payload(await session.call_tool("forget", {"confirm": True})) == {"forgotten": True}
        assert "Miso" not in str(payload(await session.call_tool("recall", {"query": "Miso"})))
