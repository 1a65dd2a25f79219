"""The OpenAI Agents SDK's `Session` over memstrata (`pip install 'memstrata[agents]'`).

`MemstrataSession(client, user_id, session_id)` keeps an agent's conversation in memstrata's
transcript: the SDK's `session_id` names a thread of the user, and the items are the
messages of that thread's current session, so everything memstrata does with a transcript
(facts, summaries, the journal, recall, resumption) works on agent conversations too.

- Items round-trip unchanged. A message item (user, assistant, system or developer) is
  stored as the text a person would read, so extraction and recall read it; the rest of the
  item (ids, status, part types, annotations) rides in the message's metadata and is put
  back on read. Any other item (tool calls and their outputs, reasoning) is stored whole as
  JSON under the `tool` role.
- `pop_item` takes back the last message (`DELETE …/messages/last`: seq stays gapless, the
  ledger names the key).
- `clear_session` ends the current memstrata session: the agent starts afresh, and the
  memory of what was said stays (it is summarized and journaled as usual); `forget` on the
  client erases a user.
- When the session ends by idleness (the tenant's hard expiry), the next item opens a new
  one; `memory_instructions` gives the agent what it should know on the way back in.

`add_items` sends up to 500 items per request, each batch all or nothing."""

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from agents import Agent, RunContextWrapper
from agents.items import TResponseInputItem
from agents.memory import SessionSettings

from memory.core.metadata import MAX_METADATA_BYTES
from service.client import MemstrataClient
from service.schemas import MessageOut

_ROLE = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
_LIVE = ("active", "soft_expired")
_SEPARATOR = "\n\n"  # between the text parts of one message
_BATCH = 500
_KEY = "agents"  # the message metadata key that holds the rest of the item
_RAW = "raw"  # its value when the whole item is the content


class MemstrataSession:
    """An implementation of `agents.memory.Session` backed by memstrata."""

    session_settings: SessionSettings | None = None

    def __init__(self, client: MemstrataClient, user_id: str, session_id: str = "main") -> None:
        self.session_id = session_id  # the thread of the user this conversation is
        self._client = client
        self._user = user_id

    async def _current(self) -> str | None:
        """The memstrata session the thread is in now, if it still takes messages."""
        found = await self._client.sessions(self._user, limit=1, thread=self.session_id)
        if found and found[0].status in _LIVE:
            return str(found[0].id)
        return None

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        sid = await self._current()
        if sid is None or limit == 0:
            return []
        messages: list[MessageOut] = []
        while True:
            after = messages[-1].seq if messages else 0
            page = await self._client.transcript(self._user, sid, after_seq=after, limit=1000)
            messages += page
            if len(page) < 1000:
                break
        items = [item_of(m) for m in messages]
        return items if limit is None else items[-limit:]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        if not items:
            return
        sid = await self._current() or str(uuid.uuid4())
        rows = [message_of(item) for item in items]
        for start in range(0, len(rows), _BATCH):
            await self._client.append_batch(
                self._user, sid, rows[start : start + _BATCH], thread=self.session_id
            )

    async def pop_item(self) -> TResponseInputItem | None:
        sid = await self._current()
        if sid is None:
            return None
        message = await self._client.retract_message(self._user, sid)
        return None if message is None else item_of(message)

    async def clear_session(self) -> None:
        sid = await self._current()
        if sid is not None:
            await self._client.end_session(self._user, sid)


def message_of(item: TResponseInputItem) -> dict[str, Any]:
    """The memstrata message that stores `item`."""
    raw: dict[str, Any] = dict(item)
    role = raw.get("role")
    if role in _ROLE and raw.get("type", "message") == "message":
        split = _texts(raw)
        if split is not None:
            texts, shape = split
            text = _SEPARATOR.join(texts)
            # As JSON text: the item's own nesting would count against metadata's depth.
            rest = {_KEY: _compact({"shape": shape, "lengths": [len(t) for t in texts]})}
            if text.strip() and len(_compact(rest).encode()) <= MAX_METADATA_BYTES:
                return {"role": _ROLE[str(role)], "content": text, "metadata": rest}
    return {"role": "tool", "content": _compact(raw), "metadata": {_KEY: _RAW}}


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _texts(item: dict[str, Any]) -> tuple[list[str], dict[str, Any]] | None:
    """The texts of a message item and the item without them, or None if it has none."""
    content = item.get("content")
    if isinstance(content, str):
        return [content], {**item, "content": None}
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
        return None
    texts = [p["text"] for p in content if isinstance(p.get("text"), str)]
    if not texts:
        return None
    parts = [{**p, "text": None} if isinstance(p.get("text"), str) else p for p in content]
    return texts, {**item, "content": parts}


def item_of(message: MessageOut) -> TResponseInputItem:
    """The item `message_of` stored, as it was."""
    stored = message.metadata.get(_KEY)
    if stored == _RAW:
        return json.loads(message.content)  # type: ignore[no-any-return]
    if not isinstance(stored, str):  # appended by something else than this session
        plain: Any = {"role": message.role, "content": message.content}
        return plain  # type: ignore[no-any-return]
    kept = json.loads(stored)
    texts, at = [], 0
    for length in kept["lengths"]:
        texts.append(message.content[at : at + length])
        at += length + len(_SEPARATOR)
    shape: dict[str, Any] = dict(kept["shape"])
    if shape.get("content") is None:
        shape["content"] = texts[0]
    else:
        pending = iter(texts)
        shape["content"] = [
            {**p, "text": next(pending)} if "text" in p and p["text"] is None else p
            for p in shape["content"]
        ]
    return shape  # type: ignore[return-value]


def memory_instructions(
    client: MemstrataClient, user_id: str, base: str, *, thread: str | None = None
) -> Callable[[RunContextWrapper[Any], Agent[Any]], Awaitable[str]]:
    """Dynamic instructions for an `Agent`: `base`, then what memstrata's resumption says
    about the user (who they are, what is open, the relevant memories) at each run."""

    async def instructions(_: RunContextWrapper[Any], __: Agent[Any]) -> str:
        context = await client.resume(user_id, thread=thread)
        memory = "\n\n".join(m.content for m in context.messages if m.role == "system")
        return f"{base}\n\n{memory}" if memory else base

    return instructions
