"""The MCP server (the official `mcp` SDK, stdio): tools `remember`, `recall`, `resume` and
`forget` for the one tenant and user it is configured for (`MEMSTRATA_MCP__TENANT`,
`MEMSTRATA_MCP__USER`), and for single memories `list_memories`, `add_memory`,
`correct_memory`, `delete_memory` and `pin_memory` (the ledger names "mcp" as who made a
change). Messages it remembers go to one session per server process."""

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from memory.core.errors import MemstrataError
from memory.core.settings import Settings
from service import schemas
from service.container import Container, build_container
from service.local_client import LocalClient

P = ParamSpec("P")
R = TypeVar("R")
INSTRUCTIONS = (
    "Long-term memory for this user. Call `resume` at the start of a conversation to get "
    "the context to continue from, `remember` for what the user says that is worth keeping, "
    "`recall` to look something up, and `forget` only when the user asks to be forgotten. "
    "When the user asks you to remember something in particular, `add_memory`; when they "
    "say a memory is wrong, `correct_memory` or `delete_memory`."
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
        return LocalClient(held["container"], settings.mcp.tenant, actor="mcp")

    server: MCPServer[Any] = MCPServer(
        name="memstrata", instructions=INSTRUCTIONS, lifespan=lifespan
    )

    @server.tool()
    @answering
    async def remember(content: str, role: str = "user") -> dict[str, Any]:
        """Store a message of the conversation (durably) in the user's memory."""
        appended = await client().append(user, session_id, role, content)
        return {"message_id": str(appended.message.id), "seq": appended.message.seq}

    @server.tool()
    @answering
    async def recall(query: str, k: int = 5, thread: str | None = None) -> list[dict[str, Any]]:
        """Find what the user said or what is known about them, by meaning and by words;
        with `thread`, only what came from that conversation thread."""
        hits = await client().recall(user, query, k, thread=thread)
        return [h.model_dump(mode="json", include={"tier", "id", "text", "at"}) for h in hits]

    @server.tool()
    @answering
    async def resume(message: str | None = None, thread: str | None = None) -> dict[str, Any]:
        """How to continue with this user now: mode, greeting and the context messages;
        with `thread`, continuing that conversation thread."""
        context = await client().resume(user, message, thread=thread)
        return context.model_dump(mode="json")

    _memory_tools(server, client, user)

    @server.tool()
    @answering
    async def forget(confirm: bool) -> dict[str, Any]:
        """Delete everything remembered about the user. Needs confirm=true."""
        if not confirm:
            return {"forgotten": False, "reason": "call again with confirm=true"}
        await client().forget(user)
        return {"forgotten": True}

    return server


def answering(tool: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A domain error reaches the model as the tool's error, in its own words ("fact … not
    found"), not as the SDK's bare "Error executing tool"."""

    @functools.wraps(tool)
    async def answered(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await tool(*args, **kwargs)
        except MemstrataError as exc:
            raise ToolError(exc.message) from exc

    return answered


def memory_view(fact: schemas.FactOut) -> dict[str, Any]:
    return fact.model_dump(mode="json", include={"id", "kind", "text", "valid_from", "pinned"})


def _memory_tools(server: MCPServer[Any], client: Callable[[], LocalClient], user: str) -> None:
    """The tools for single memories."""

    @server.tool()
    @answering
    async def list_memories(kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The user's current memories (facts), newest first, with their ids."""
        facts = await client().facts(user, kinds=[kind] if kind else None, limit=limit)
        return [memory_view(f) for f in facts]

    @server.tool()
    @answering
    async def add_memory(
        kind: str, text: str, importance: float = 0.8, pin: bool = False
    ) -> dict[str, Any]:
        """Remember something the user asked to be remembered, as a statement about them.
        kind: profile, preference, relation, event, decision, plan or observation; pin=true
        keeps it in view at the start of every conversation."""
        fact = await client().remember(user, kind, text, importance=importance, pinned=pin)
        return memory_view(fact)

    @server.tool()
    @answering
    async def correct_memory(fact_id: str, text: str) -> dict[str, Any]:
        """Replace what a memory says (a new version; the old one stays in its history)."""
        return memory_view(await client().correct(user, fact_id, text))

    @server.tool()
    @answering
    async def delete_memory(fact_id: str) -> dict[str, Any]:
        """Delete one memory for good."""
        await client().delete_fact(user, fact_id)
        return {"deleted": fact_id}

    @server.tool()
    @answering
    async def pin_memory(fact_id: str, pinned: bool = True) -> dict[str, Any]:
        """Keep a memory in view at the start of every conversation (pinned=false: stop)."""
        return memory_view(await client().pin(user, fact_id, pinned))
