"""Batch append: many messages of one session in one request, all or none, in order, each
idempotent on its own key; the hot state follows once; another tenant's same ids are
another session."""

import uuid
from typing import Any

from memory.core.domain import Scope
from service.local_client import LocalClient
from tests.api_harness import Api, problem_of
from tests.conftest import TravelClock


def batch_path(sid: str, user: str = "alice") -> str:
    return f"/v1/users/{user}/sessions/{sid}/messages/batch"


def turns(*contents: str, keyed: bool = True) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": content}
        | ({"idempotency_key": f"k-{content}"} if keyed else {})
        for content in contents
    ]


async def test_a_batch_is_appended_in_order_and_a_retry_duplicates_nothing(api: Api) -> None:
    sid = str(uuid.uuid4())
    body = {"messages": turns("one", "two", "three"), "device_id": "laptop"}
    first = await api.client.post(batch_path(sid), json=body, headers=api.as_a())
    assert first.status_code == 201, first.text
    answer = first.json()
    assert [m["seq"] for m in answer["messages"]] == [1, 2, 3]
    assert answer["replayed"] == [False, False, False] and answer["session_version"] == 3
    again = await api.client.post(batch_path(sid), json=body, headers=api.as_a())
    assert again.status_code == 200 and again.json()["replayed"] == [True, True, True]
    assert again.json()["messages"] == answer["messages"]
    # A batch that repeats what is stored appends only the rest.
    more = {"messages": turns("two", "three", "four")}
    grown = (await api.client.post(batch_path(sid), json=more, headers=api.as_a())).json()
    assert grown["replayed"] == [True, True, False]
    assert [m["seq"] for m in grown["messages"]] == [2, 3, 4]
    state = (await api.client.get(f"/v1/users/alice/sessions/{sid}", headers=api.as_a())).json()
    assert [w["content"] for w in state["window"]] == ["one", "two", "three", "four"]


async def test_a_batch_is_all_or_nothing(api: Api, clock: TravelClock) -> None:
    sid = str(uuid.uuid4())
    bad = [*turns("fine", "also fine"), {"role": "user", "content": ""}]
    problem_of(
        await api.client.post(batch_path(sid), json={"messages": bad}, headers=api.as_a()), 422
    )
    # A key reused for another message fails the whole batch, the new ones included.
    await api.client.post(batch_path(sid), json={"messages": turns("kept")}, headers=api.as_a())
    clash = [
        *turns("new one"),
        {"role": "user", "content": "not what k-kept said", "idempotency_key": "k-kept"},
    ]
    problem_of(
        await api.client.post(batch_path(sid), json={"messages": clash}, headers=api.as_a()), 409
    )
    listed = await api.client.get(f"/v1/users/alice/sessions/{sid}/messages", headers=api.as_a())
    assert [m["content"] for m in listed.json()] == ["kept"]
    # A future time, an empty batch, too many: refused, nothing written.
    ahead = [{"role": "user", "content": "x", "at": "2999-01-01T00:00:00Z"}]
    wrongs: list[dict[str, Any]] = [
        {"messages": ahead},
        {"messages": []},
        {"messages": turns(*map(str, range(501)))},
    ]
    for wrong in wrongs:
        response = await api.client.post(batch_path(sid), json=wrong, headers=api.as_a())
        assert 400 <= response.status_code < 500, response.text
    listed = await api.client.get(f"/v1/users/alice/sessions/{sid}/messages", headers=api.as_a())
    assert len(listed.json()) == 1


async def test_another_tenants_batch_is_another_session(api: Api) -> None:
    sid = str(uuid.uuid4())
    body = {"messages": turns("mine")}
    await api.client.post(batch_path(sid), json=body, headers=api.as_a())
    theirs = await api.client.post(batch_path(sid), json=body, headers=api.as_b())
    assert theirs.status_code == 201 and theirs.json()["replayed"] == [False]
    mine = await api.client.get(f"/v1/users/alice/sessions/{sid}/messages", headers=api.as_a())
    assert [m["content"] for m in mine.json()] == ["mine"]


async def test_the_local_client_appends_a_batch_too(api: Api) -> None:
    local = LocalClient(api.container, "acme")
    sid = str(uuid.uuid4())
    done = await local.append_batch("bob", sid, turns("a", "b", keyed=False))
    assert [m.seq for m in done.messages] == [1, 2] and done.replayed == [False, False]
    kept = await api.container.transcripts.window(Scope("acme", "bob"), sid)
    assert [m.content for m in kept] == ["a", "b"]
