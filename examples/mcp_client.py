"""An MCP client of memstrata's `/mcp` endpoint, with the official `mcp` SDK: it resumes a
user's conversation, remembers what the user says, and recalls it — what an MCP-speaking
assistant (Claude Desktop, Cursor, an IDE agent) does with the same tools.

    MEMSTRATA_URL=http://127.0.0.1:8421 MEMSTRATA_API_KEY=ms_… \\
    python examples/mcp_client.py alice "I'm allergic to peanuts." "What am I allergic to?"

The last argument is the question recalled; the ones before it are remembered."""

import asyncio
import json
import os
import sys

from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(user_id: str, said: list[str], question: str) -> None:
    url, key = os.environ["MEMSTRATA_URL"], os.environ["MEMSTRATA_API_KEY"]
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with (
        http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        print("tools:", ", ".join(tools))  # noqa: T201
        resumed = await session.call_tool("resume", {"user_id": user_id})
        print("resume:", json.dumps(resumed.structured_content)[:200])  # noqa: T201
        for text in said:
            await session.call_tool("remember", {"user_id": user_id, "content": text})
            print("remembered:", text)  # noqa: T201
        found = await session.call_tool("recall", {"user_id": user_id, "query": question})
        hits = (found.structured_content or {}).get("result", [])
        for hit in hits:
            print(f"recalled ({hit['tier']}): {hit['text']}")  # noqa: T201


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:-1], sys.argv[-1]))
