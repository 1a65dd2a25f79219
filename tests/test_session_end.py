"""A client ends a conversation: the session ends now (idempotent), takes no more messages,
and the worker's next pass summarizes and journals it without waiting for the idle
windows; another tenant cannot end it."""

import uuid

from tests.api_harness import Api, problem_of


async def test_an_ended_session_is_summarized_on_the_next_pass(api: Api) -> None:
    sid = str(uuid.uuid4())
    path = f"/v1/users/alice/sessions/{sid}"
    problem_of(await api.client.post(f"{path}/end", headers=api.as_a()), 404)
    body = {"messages": [{"role": "user", "content": "I work as a nurse in Porto."}]}
    await api.client.post(f"{path}/messages/batch", json=body, headers=api.as_a())
    problem_of(await api.client.post(f"{path}/end", headers=api.as_b()), 404)
    ended = await api.client.post(f"{path}/end", headers=api.as_a())
    assert ended.status_code == 200 and ended.json()["status"] == "hard_expired"
    again = await api.client.post(f"{path}/end", headers=api.as_a())
    assert again.json()["version"] == ended.json()["version"], "ending twice changes nothing"
    late = {"role": "user", "content": "one more thing"}
    problem_of(await api.client.post(f"{path}/messages", json=late, headers=api.as_a()), 409)
    await api.container.worker.tick()  # no time has passed: only the end makes it due
    summaries = (await api.client.get("/v1/users/alice/summaries", headers=api.as_a())).json()
    assert summaries and "nurse" in summaries[0]["text"]
    journal = (await api.client.get("/v1/users/alice/journal", headers=api.as_a())).json()
    assert journal is not None and "nurse" in journal["content"]
