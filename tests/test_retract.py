"""Taking back the last message of a session (an agent framework's undo): the message goes,
seq stays gapless (the next append takes its place), the hot state follows, the ledger names
who did it; an empty session answers null, an ended one 409, another user's 404."""

import uuid

from tests.api_harness import Api, problem_of


def path(sid: str, user: str = "alice") -> str:
    return f"/v1/users/{user}/sessions/{sid}"


async def test_the_last_message_is_taken_back_and_seq_stays_gapless(api: Api) -> None:
    sid = str(uuid.uuid4())
    for n, text in enumerate(("one", "two", "three"), start=1):
        sent = await api.client.post(
            f"{path(sid)}/messages",
            json={"role": "user", "content": text},
            headers={**api.as_a(), "Idempotency-Key": f"k{n}"},
        )
        assert sent.status_code == 201
    taken = await api.client.delete(f"{path(sid)}/messages/last", headers=api.as_a())
    assert taken.status_code == 200 and taken.json()["content"] == "three"
    assert taken.json()["seq"] == 3
    state = (await api.client.get(path(sid), headers=api.as_a())).json()
    assert [w["content"] for w in state["window"]] == ["one", "two"]
    # The next message takes seq 3; the retracted message's key is free again.
    again = await api.client.post(
        f"{path(sid)}/messages",
        json={"role": "user", "content": "three, said better"},
        headers={**api.as_a(), "Idempotency-Key": "k3"},
    )
    assert again.status_code == 201 and again.json()["message"]["seq"] == 3
    listed = (await api.client.get(f"{path(sid)}/messages", headers=api.as_a())).json()
    assert [m["seq"] for m in listed] == [1, 2, 3]
    runs = (await api.client.get("/v1/users/alice/runs", headers=api.as_a())).json()
    (run,) = [r for r in runs if r["kind"] == "message.retract"]
    assert run["subject_id"] == taken.json()["id"] and run["actor"].startswith("key:")
    assert run["session_id"] == sid and run["status"] == "ok"


async def test_an_empty_ended_or_foreign_session(api: Api) -> None:
    sid = str(uuid.uuid4())
    await api.client.post(
        f"{path(sid)}/messages", json={"role": "user", "content": "only"}, headers=api.as_a()
    )
    assert (await api.client.delete(f"{path(sid)}/messages/last", headers=api.as_a())).json()
    empty = await api.client.delete(f"{path(sid)}/messages/last", headers=api.as_a())
    assert empty.status_code == 200 and empty.json() is None
    # Another user's (or tenant's) session id is no session of the caller's.
    problem_of(await api.client.delete(f"{path(sid)}/messages/last", headers=api.as_b()), 404)
    problem_of(
        await api.client.delete(f"{path(sid, 'bob')}/messages/last", headers=api.as_a()), 404
    )
    await api.client.post(
        f"{path(sid)}/messages", json={"role": "user", "content": "again"}, headers=api.as_a()
    )
    await api.client.post(f"{path(sid)}/end", headers=api.as_a())
    ended = await api.client.delete(f"{path(sid)}/messages/last", headers=api.as_a())
    problem_of(ended, 409)
    listed = (await api.client.get(f"{path(sid)}/messages", headers=api.as_a())).json()
    assert [m["content"] for m in listed] == ["again"]
