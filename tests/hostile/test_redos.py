"""A tenant cannot freeze the service: its redaction patterns run in linear time (RE2; what
RE2 cannot run is a 422), one message can only produce a bounded number of facts, and the
worker that serve runs beside itself is a process of its own, so the API answers while the
worker chews on what a tenant sent."""

import asyncio

import httpx
import psutil

from tests.hostile.conftest import Start, session

EVIL = "(a+)+$"
ADVERSARIAL = ("I like cats and I love dogs. My name is Ann. " * 800)[:32_000]


async def test_a_tenant_cannot_freeze_the_service(start: Start) -> None:
    running = await start(
        MEMSTRATA_SERVE_WORKER="true",
        MEMSTRATA_REFLECTION__EXTRACT_INTERVAL_S="1",
        MEMSTRATA_REFLECTION__EXTRACT_IDLE_S="0",
    )
    assert running.service.process is not None
    serve = psutil.Process(running.service.process.pid)
    workers = [p for p in serve.children() if "worker" in " ".join(p.cmdline())]
    assert len(workers) == 1, "serve runs its worker as a child process"
    async with running.client() as c:
        refused = await c.put(
            "/v1/tenant/settings", json={"reflection": {"redact_patterns": {"x": "(?<=a)b"}}}
        )
        assert refused.status_code == 422 and "x" in refused.json()["detail"]
        accepted = await c.put(
            "/v1/tenant/settings", json={"reflection": {"redact_patterns": {"aaa": EVIL}}}
        )
        assert accepted.status_code == 200, accepted.text
        sid = session()
        for content in ("a" * 30 + "!", "a" * 5000 + "!", ADVERSARIAL):
            sent = await c.post(
                f"/v1/users/ana/sessions/{sid}/messages", json={"role": "user", "content": content}
            )
            assert sent.status_code == 201
    async with httpx.AsyncClient(base_url=running.service.url, timeout=5.0) as probe:
        for _ in range(600):
            assert (await probe.get("/healthz")).status_code == 200  # within 5 s, every time
            rows = await running.rows(
                "SELECT extracted_seq, last_seq FROM sessions WHERE user_id = 'ana'"
            )
            if rows and rows[0][0] == rows[0][1]:  # type: ignore[index]
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"the worker never finished\n{running.service.log()}")
    facts = await running.rows("SELECT count(*) FROM facts WHERE user_id = 'ana'")
    assert 0 < facts[0][0] <= 12 * 3, facts  # type: ignore[index]
