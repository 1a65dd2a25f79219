"""The MCP server (the official `mcp` SDK, stdio): tools `remember`, `recall`, `resume` and
`forget` for the one tenant and user it is configured for (`MEMSTRATA_MCP__TENANT`,
`MEMSTRATA_MCP__USER`). Messages it remembers go to one session per server process."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

from memory.core.settings import Settings
from service.client import LocalClient
from service.container import Container, build_container

INSTRUCTIONS = (
    "Long-term memory for this user. Call `resume` at the start of a conversation to get "
    "the context to continue from, `remember` for what the user says that is worth keeping, "
    "`recall` to look something up, and `forget` only when the user asks to be forgotten."
)


def build_server(settings: Settings) -> MCPServer[Any]:
    held: dict[str, Container] = {}
    user = settings.mcp.user
    session_id = str(uuid.uuid4())

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        held["container"] = await build_container(settings)
        try:
            yield None
        finally:
            await held["container"].close()

    def client() -> LocalClient:
        return LocalClient(held["container"], settings.mcp.tenant)

    server: MCPServer[Any] = MCPServer(
        name="memstrata", instructions=INSTRUCTIONS, lifespan=lifespan
    )

    @server.tool()
    async def remember(content: str, role: str = "user") -> dict[str, Any]:
        """Store a message of the conversation (durably) in the user's memory."""
        appended = await client().append(user, session_id, role, content)
        return {"message_id": str(appended.message.id), "seq": appended.message.seq}

    @server.tool()
    async def recall(query: str, k: int = 5) -> list[dict[str, Any]]:
        """Find what the user said or what is known about them, by meaning and by words."""
        hits = await client().recall(user, query, k)
        return [h.model_dump(mode="json", include={"tier", "id", "text", "at"}) for h in hits]

    @server.tool()
    async def resume(message: str | None = None) -> dict[str, Any]:
        """How to continue with this user now: mode, greeting and the context messages."""
        context = await client().resume(user, message)
        return context.model_dump(mode="json")

    @server.tool()
    async def forget(confirm: bool) -> dict[str, Any]:
        """Delete everything remembered about the user. Needs confirm=true."""
        if not confirm:
            return {"forgotten": False, "reason": "call again with confirm=true"}
        await client().forget(user)
        return {"forgotten": True}

    return server
