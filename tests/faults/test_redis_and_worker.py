"""Faults with real processes, continued: a test-owned Redis killed and started again while
the API takes appends, and a worker killed with SIGKILL in the middle of its pass."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Scope
from memory.core.settings import Settings
from memory.infra.rls import owner_transaction
from service.container import build_container
from tests.services import Serve, free_port

MESSAGES = 40


class RedisServer:
    """A redis-server of the test's own on a fixed port, that can be killed and restarted."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tmp
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), *options, "--dir", str(self._dir)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


async def test_redis_killed_and_restarted_under_load_loses_nothing(
    fresh_database: str,
    engine: AsyncEngine,
    redis_server: RedisServer,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEMSTRATA_REDIS_URL", redis_server.url)
    service, key = await serve(fresh_database)
    sid = uuid.uuid4()
    acked: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=service.url, timeout=10.0, headers=headers) as client:
        for n in range(MESSAGES):
            if n == MESSAGES // 3:
                redis_server.kill()
            if n == 2 * MESSAGES // 3:
                redis_server.start()
            response = await client.post(
                f"/v1/users/ana/sessions/{sid}/messages",
                json={"role": "user", "content": f"message {n}"},
                headers={"Idempotency-Key": f"m{n}"},
            )
            assert response.status_code == 201, response.text  # Redis is only a cache
            acked.append(response.json()["message"]["id"])
        state = (await client.get(f"/v1/users/ana/sessions/{sid}")).json()
    assert state["window"][-1]["content"] == f"message {MESSAGES - 1}"
    assert state["turn_count"] == MESSAGES
    async with owner_transaction(engine) as conn:
        stored = (await conn.execute(text("SELECT id::text FROM messages ORDER BY seq"))).all()
    assert [row[0] for row in stored] == acked


def _worker(database_url: str, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MEMSTRATA_DATABASE_URL": database_url,
        "MEMSTRATA_DATA_DIR": str(tmp),
        "MEMSTRATA_REFLECTION__EXTRACTION": "rules",
        "HF_HUB_OFFLINE": "1",
    }
    command = [sys.executable, "-c", "from service.cli import app; app()", "worker", "--once"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_a_worker_killed_mid_pass_is_finished_by_the_next_without_duplicates(
    fresh_database: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = 30
    app = await build_container(Settings.model_validate({"database_url": fresh_database}))
    said_at = datetime.now(UTC) - timedelta(hours=5)  # every session is past its hard expiry
    try:
        for i in range(sessions):
            scope = Scope("acme", f"user{i % 3}")
            sid = uuid.uuid4()
            for j, line in enumerate(
                [
                    f"I live in city number {i} and I work as a baker.",
                    f"I decided to plan trip {i} for June.",
                    "Should I pack light or heavy?",
                ]
            ):
                at = said_at + timedelta(minutes=i * 5 + j)
                await app.sessions.append(scope, sid, "user", line, at=at)
    finally:
        await app.close()

    async def count(sql: str) -> int:
        async with owner_transaction(engine) as conn:
            return int((await conn.execute(text(sql))).scalar_one())

    first = _worker(fresh_database, tmp_path)
    deadline = time.monotonic() + 180
    while await count("SELECT count(*) FROM session_summaries") == 0:
        assert first.poll() is None, "the worker finished before it could be killed"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    ended_at_kill = await count("SELECT count(*) FROM session_summaries")
    assert ended_at_kill < sessions, "the kill came after the pass; nothing was tested"

    second = _worker(fresh_database, tmp_path)
    assert second.wait(timeout=300) == 0
    assert await count("SELECT count(*) FROM session_summaries") == sessions
    assert await count("SELECT count(*) FROM sessions WHERE status = 'archived'") == sessions
    assert await count("SELECT count(*) FROM journal_entries") == sessions  # one per session
    assert (
        await count(
            "SELECT count(*) FROM (SELECT user_id, text FROM facts WHERE valid_to IS NULL "
            "GROUP BY user_id, text HAVING count(*) > 1) AS twice"
        )
        == 0
    ), "no current fact is stored twice"
    assert await count("SELECT count(*) FROM facts") > 0
