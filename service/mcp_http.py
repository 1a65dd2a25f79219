"""MCP over streamable HTTP at `/mcp` on `memstrata serve`, for many users: the caller
presents a tenant API key (`Authorization: Bearer`), as for every REST call, and names the
user in each tool call (`user_id`, scoped to the key's tenant like a REST path). A request
without a valid key is refused before the MCP layer sees it (401, problem+json). Changes
made by hand are in the ledger as made by the key (`key:<id>`).

Stateless: every POST is answered on its own (JSON, no server-held session), so any number
of API processes can serve `/mcp` behind a load balancer. The stdio server of
`service.mcp_server` stays for one local user."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Receive, Scope, Send

from memory.core.domain import Scope as UserScope
from memory.core.domain import external_id
from memory.core.errors import MemstrataError
from memory.stores.session_rows import LIVE
from service.container import Container
from service.deps import Caller, resolve_caller
from service.local_client import LocalClient
from service.mcp_server import answering, memory_view
from service.problems import problem

INSTRUCTIONS = (
    "Long-term memory for the users of this assistant; every tool takes the user's id. At "
    "the start of a conversation call `resume` (it says whether to continue the last "
    "session, and gives who the user is and what is open). Call `remember` with each "
    "message worth keeping, the user's and yours, as the conversation goes. Call `recall` "
    "before answering anything that depends on what the user told you before. When the "
    "user asks you to remember something in particular, `add_memory`; when they say a "
    "memory is wrong, `correct_memory` or `delete_memory`. `forget` only when the user asks "
    "to be forgotten."
)
_CALLER = "memstrata.caller"  # where the checked caller waits in the request's state


def _caller(ctx: Context[Any, Any]) -> Caller:
    request = ctx.request_context.request
    state = getattr(request, "scope", {}).get("state", {})
    who = state.get(_CALLER)
    if not isinstance(who, Caller):  # only reachable if the guard was bypassed
        raise PermissionError("no authenticated caller")
    return who


Bound = Callable[[Context[Any, Any], str], tuple[LocalClient, str]]


def build_http_server(container_of: Callable[[], Container]) -> MCPServer[Any]:
    """The tools, each bound per call to the key's tenant and the named user."""
    server: MCPServer[Any] = MCPServer(name="memstrata", instructions=INSTRUCTIONS)

    def client(ctx: Context[Any, Any], user_id: str) -> tuple[LocalClient, str]:
        who = _caller(ctx)
        local = LocalClient(container_of(), who.tenant_id, actor=who.actor)
        return local, external_id(user_id, "user_id")

    _conversation_tools(server, client, container_of)
    _reading_tools(server, client)
    _memory_tools(server, client)
    return server


def _conversation_tools(
    server: MCPServer[Any], client: Bound, container_of: Callable[[], Container]
) -> None:
    """Remember a message, recall, resume."""

    @server.tool()
    @answering
    async def remember(
        user_id: str,
        content: str,
        ctx: Context[Any, Any],
        role: str = "user",
        session_id: str | None = None,
        thread: str | None = None,
    ) -> dict[str, Any]:
        """Store one message of the conversation (durably). Without `session_id` it goes
        to the user's current session of `thread` (a new one once that has ended)."""
        local, user = client(ctx, user_id)
        scope = UserScope(_caller(ctx).tenant_id, user)
        sid = session_id or await _current_session(container_of(), scope, thread)
        appended = await local.append(user, sid, role, content, thread=thread)
        message = appended.message
        return {"session_id": str(message.session_id), "message_id": str(message.id)}

    @server.tool()
    @answering
    async def recall(
        user_id: str,
        query: str,
        ctx: Context[Any, Any],
        k: int = 5,
        tiers: list[str] | None = None,
        kinds: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        thread: str | None = None,
    ) -> list[dict[str, Any]]:
        """Find what the user said or what is known about them, by meaning and by words.
        tiers: raw, facts, knowledge, summaries; kinds of fact: profile, preference,
        relation, event, decision, plan, open_question, observation; since/until: ISO 8601
        with a zone; thread: only what came from that conversation thread."""
        local, user = client(ctx, user_id)
        hits = await local.recall(
            user, query, k, tiers=tiers, kinds=kinds, since=since, until=until, thread=thread
        )
        return [
            h.model_dump(mode="json", include={"tier", "id", "text", "at", "kind"}) for h in hits
        ]

    @server.tool()
    @answering
    async def resume(
        user_id: str, ctx: Context[Any, Any], message: str | None = None, thread: str | None = None
    ) -> dict[str, Any]:
        """How to continue with this user now: the mode (full_restore, primed, fresh), the
        session to write in, a greeting, and the context as chat messages."""
        local, user = client(ctx, user_id)
        context = await local.resume(user, message, thread=thread)
        return context.model_dump(
            mode="json",
            include={"mode", "reason", "session_id", "thread", "greeting", "messages", "tokens"},
        )


def _reading_tools(server: MCPServer[Any], client: Bound) -> None:
    """The profile, the journal, the sessions."""

    @server.tool()
    @answering
    async def profile(user_id: str, ctx: Context[Any, Any]) -> list[str]:
        """Who the user is: name, home, work, family and pets, health constraints, lasting
        preferences and how they like to be answered."""
        local, user = client(ctx, user_id)
        context = await local.resume(user)
        return [item.text for block in context.blocks[:1] for item in block.items]

    @server.tool()
    @answering
    async def journal(user_id: str, ctx: Context[Any, Any]) -> str:
        """The user's journal (Markdown): the arc of their conversations, newest first."""
        local, user = client(ctx, user_id)
        entry = await local.journal(user)
        return entry.content if entry else "(no journal yet)"

    @server.tool()
    @answering
    async def list_sessions(
        user_id: str, ctx: Context[Any, Any], limit: int = 20, thread: str | None = None
    ) -> list[dict[str, Any]]:
        """The user's sessions, newest first: when, status, thread and summary."""
        local, user = client(ctx, user_id)
        found = await local.sessions(user, limit=limit, thread=thread)
        keep = {"id", "status", "started_at", "last_active_at", "turns", "summary", "thread"}
        return [s.model_dump(mode="json", include=keep) for s in found]


def _memory_tools(server: MCPServer[Any], client: Bound) -> None:
    """Single memories by hand, and forgetting the user."""

    @server.tool()
    @answering
    async def list_memories(
        user_id: str, ctx: Context[Any, Any], kind: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The user's current memories (facts), newest first, with their ids."""
        local, user = client(ctx, user_id)
        facts = await local.facts(user, kinds=[kind] if kind else None, limit=limit)
        return [memory_view(f) for f in facts]

    @server.tool()
    @answering
    async def add_memory(
        user_id: str, kind: str, text: str, ctx: Context[Any, Any], pin: bool = False
    ) -> dict[str, Any]:
        """Remember something the user asked to be remembered, as a statement about them.
        kind: profile, preference, relation, event, decision, plan or observation; pin=true
        keeps it in view at the start of every conversation."""
        local, user = client(ctx, user_id)
        return memory_view(await local.remember(user, kind, text, pinned=pin))

    @server.tool()
    @answering
    async def correct_memory(
        user_id: str, memory_id: str, text: str, ctx: Context[Any, Any]
    ) -> dict[str, Any]:
        """Replace what a memory says (a new version; the old one stays in its history)."""
        local, user = client(ctx, user_id)
        return memory_view(await local.correct(user, memory_id, text))

    @server.tool()
    @answering
    async def delete_memory(user_id: str, memory_id: str, ctx: Context[Any, Any]) -> dict[str, Any]:
        """Delete one memory for good."""
        local, user = client(ctx, user_id)
        await local.delete_fact(user, memory_id)
        return {"deleted": memory_id}

    @server.tool()
    @answering
    async def forget(user_id: str, confirm: bool, ctx: Context[Any, Any]) -> dict[str, Any]:
        """Delete everything remembered about the user. Needs confirm=true."""
        if not confirm:
            return {"forgotten": False, "reason": "call again with confirm=true"}
        local, user = client(ctx, user_id)
        await local.forget(user)
        return {"forgotten": True}


async def _current_session(container: Container, scope: UserScope, thread: str | None) -> str:
    """The user's latest session of the thread while it still takes messages, else a new
    one."""
    last = await container.sessions.latest(scope, thread)
    if last is not None and last.status in LIVE:
        return str(last.session_id)
    return str(uuid.uuid4())


class Guarded:
    """`/mcp`: the caller is checked once per request and handed to the tools in the
    request's state (a bad key is a 401 problem); the request is then answered by a
    stateless MCP session manager of its own, started and stopped within the request, so
    nothing of it outlives the request or depends on the app's lifespan."""

    def __init__(self, container_of: Callable[[], Container], auth: bool) -> None:
        self._container_of = container_of
        server = build_http_server(container_of)
        server.streamable_http_app(  # configures the server's session manager
            stateless_http=True, json_response=True, transport_security=security(auth)
        )
        self._template = server.session_manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        try:
            who = await resolve_caller(self._container_of(), authorization)
        except MemstrataError as exc:
            response = problem(401, "Unauthorized", exc.message, exc.code)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[_CALLER] = who
        template = self._template
        manager = StreamableHTTPSessionManager(
            app=template.app,
            json_response=True,
            stateless=True,
            security_settings=template.security_settings,
        )
        async with manager.run():
            await manager.handle_request(scope, receive, send)


def security(auth: bool) -> TransportSecuritySettings:
    """With API keys, a browser page cannot call `/mcp` (it has no key), so the Host check
    against DNS rebinding is not needed and would refuse every proxy's host name. Without
    authentication (loopback only) it is kept."""
    if auth:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )
