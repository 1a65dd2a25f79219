"""MCP over streamable HTTP at /mcp on a real `memstrata serve`, driven by the `mcp` SDK's own
client: the tenant's API key authenticates, each call names its user, two users of one
tenant stay apart, another tenant's key sees nothing, and a bad key is a 401 before the MCP
layer answers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.services import Serve, new_tenant
from tests.test_mcp import payload

TOOLS = {
    "remember",
    "recall",
    "resume",
    "profile",
    "journal",
    "list_sessions",
    "list_memories",
    "add_memory",
    "correct_memory",
    "delete_memory",
    "forget",
}


@asynccontextmanager
async def mcp_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with (
        client,
        streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_mcp_over_http_serves_many_users_of_the_keys_tenant_only(
    serve: Serve, fresh_database: str
) -> None:
    service, acme = await serve(fresh_database)
    globex = await new_tenant(service.url, "globex")
    async with mcp_session(service.url, acme) as session:
        assert {t.name for t in (await session.list_tools()).tools} == TOOLS
        said = {"alice": "My cat Miso loves tuna.", "bob": "I race bikes in Girona."}
        for user, content in said.items():
            stored = payload(
                await session.call_tool("remember", {"user_id": user, "content": content})
            )
            again = payload(
                await session.call_tool("remember", {"user_id": user, "content": "and more"})
            )
            assert again["session_id"] == stored["session_id"], "the current session continues"  # type: ignore[index]
        alice = payload(await session.call_tool("recall", {"user_id": "alice", "query": "cat"}))
        assert "Miso" in str(alice) and "Girona" not in str(alice)
        bob = payload(await session.call_tool("recall", {"user_id": "bob", "query": "bikes"}))
        assert "Girona" in str(bob) and "Miso" not in str(bob)

        added = payload(
            await session.call_tool(
                "add_memory",
                {"user_id": "alice", "kind": "profile", "text": "Is vegetarian", "pin": True},
            )
        )
        fixed = payload(
            await session.call_tool(
                "correct_memory",
                {"user_id": "alice", "memory_id": added["id"], "text": "Is vegan"},  # type: ignore[index]
            )
        )
        listed = payload(
            await session.call_tool("list_memories", {"user_id": "alice", "kind": "profile"})
        )
        assert [m["text"] for m in listed] == ["Is vegan"]  # type: ignore[attr-defined]
        assert "Is vegan" in str(payload(await session.call_tool("profile", {"user_id": "alice"})))
        assert payload(await session.call_tool("list_memories", {"user_id": "bob"})) == []
        context = payload(await session.call_tool("resume", {"user_id": "alice", "message": "hi"}))
        assert context["mode"] == "full_restore"  # type: ignore[index]
        sessions = payload(await session.call_tool("list_sessions", {"user_id": "alice"}))
        assert len(sessions) == 1  # type: ignore[arg-type]
        assert "no journal" in str(payload(await session.call_tool("journal", {"user_id": "bob"})))
        # Bob's memory id is not Alice's: the call is scoped to the user it names.
        wrong = await session.call_tool(
            "delete_memory",
            {"user_id": "bob", "memory_id": fixed["id"]},  # type: ignore[index]
        )
        assert wrong.is_error and "not found" in str(wrong.content)
        bad = await session.call_tool("recall", {"user_id": "not a valid id!", "query": "x"})
        assert bad.is_error and "user_id" in str(bad.content)

    async with mcp_session(service.url, globex) as other:
        for user in ("alice", "bob"):
            seen = payload(await other.call_tool("recall", {"user_id": user, "query": "cat bikes"}))
            assert seen == [], "another tenant's key sees nothing"
            assert payload(await other.call_tool("list_memories", {"user_id": user})) == []

    async with httpx.AsyncClient(base_url=service.url) as plain:
        runs = await plain.get("/v1/users/alice/runs", headers={"Authorization": f"Bearer {acme}"})
        assert any(r["actor"].startswith("key:") for r in runs.json() if r["actor"])
        for key in ("garbage", "ms_not-a-key", acme + "x"):
            refused = await plain.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
            )
            assert refused.status_code == 401, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
