"""`memstrata serve` as a real child process on loopback, for the suites that need a whole
service (the fault suite, the inspector's browser tests): start, wait until ready, kill,
restart. Every wait is bounded in time."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ADMIN = "fault-suite-admin-key"
READY_WITHIN_S = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """`memstrata serve` on a fixed port; `kill()` sends SIGKILL, `start()` starts it again."""

    def __init__(
        self, database_url: str | None, tmp: Path, env: dict[str, str] | None = None
    ) -> None:
        """With no `database_url`, the service runs on its embedded Postgres in `tmp`;
        `env` adds or overrides environment variables (settings) of the service."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            **({"MEMSTRATA_DATABASE_URL": database_url} if database_url else {}),
            "MEMSTRATA_DATA_DIR": str(tmp),
            "MEMSTRATA_API__ADMIN_KEY": ADMIN,
            "MEMSTRATA_API__RATE_BURST": "1000000",
            "MEMSTRATA_API__RATE_PER_S": "100000",
            "MEMSTRATA_REFLECTION__EXTRACTION": "rules",
            "MEMSTRATA_SERVE_WORKER": "false",
            "MEMSTRATA_LOG_FORMAT": "text",
            "HF_HUB_OFFLINE": "1",
            **(env or {}),
        }
        self._log = tmp / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "service", "serve"]
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], env=self._env, stdout=log, stderr=log
            )

    async def ready(self) -> None:
        deadline = time.monotonic() + READY_WITHIN_S
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.log()
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise AssertionError(f"the service was not ready within {READY_WITHIN_S} s\n{self.log()}")

    async def worker_once(self, timeout_s: float = 120.0, **settings: str) -> str:
        """Run `memstrata worker --once` on the service's database and settings, plus
        `settings` (environment variables); returns what it printed (stdout and stderr)."""
        command = [sys.executable, "-m", "service", "worker", "--once"]
        env = {**self._env, **settings}
        done = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, timeout=timeout_s
        )
        output = (done.stdout + done.stderr).decode(errors="replace")
        assert done.returncode == 0, output[-3000:]
        return output

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self, tail: int | None = 4000) -> str:
        """The service's output, its last `tail` characters (None: all of it)."""
        text = self._log.read_text(errors="replace") if self._log.exists() else ""
        return text if tail is None else text[-tail:]


async def new_tenant(base_url: str, tenant_id: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        created = await client.post(
            "/v1/tenants", json={"id": tenant_id}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
    assert created.status_code == 201, created.text
    key: str = created.json()["api_key"]
    return key


# Starts `memstrata serve` on a database, waits until it is ready, creates tenant "acme";
# returns the service and the tenant's key. Every service started is stopped afterwards.
Serve = Callable[[str | None], Awaitable[tuple[Service, str]]]
