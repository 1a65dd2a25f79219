"""Real processes on loopback for the fault suite: `memstrata serve` as a child process
that a test may kill, and a TCP proxy in front of Postgres that a test may cut. Every wait
is bounded in time."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

ADMIN = "fault-suite-admin-key"
READY_WITHIN_S = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """`memstrata serve` on a fixed port; `kill()` sends SIGKILL, `start()` starts it again."""

    def __init__(self, database_url: str | None, tmp: Path) -> None:
        """With no `database_url`, the service runs on its embedded Postgres in `tmp`."""
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
            "MEMSTRATA_WORKER_IN_PROCESS": "false",
            "MEMSTRATA_LOG_FORMAT": "text",
            "HF_HUB_OFFLINE": "1",
        }
        self._log = tmp / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-c", "from service.cli import app; app()", "serve"]
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

    def log(self) -> str:
        return self._log.read_text(errors="replace")[-4000:] if self._log.exists() else ""


# Starts `memstrata serve` on a database, waits until it is ready, creates tenant "acme";
# returns the service and the tenant's key. Every service started is stopped afterwards.
Serve = Callable[[str | None], Awaitable[tuple[Service, str]]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    started: list[Service] = []

    async def start(database_url: str | None) -> tuple[Service, str]:
        service = Service(database_url, tmp_path)
        started.append(service)
        service.start()
        await service.ready()
        return service, await new_tenant(service.url, "acme")

    yield start
    for service in started:
        service.stop()


@dataclass
class Proxy:
    """A TCP listener on 127.0.0.1 that forwards to the Postgres unix socket. `cut()` drops
    every connection and refuses new ones, as an unreachable database would; `restore()`
    lets them through again."""

    target: str | tuple[str, int]  # a unix socket path, or host and port
    port: int = field(default_factory=free_port)
    open: bool = True
    _links: set[asyncio.StreamWriter] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            if isinstance(self.target, str):
                up_reader, up_writer = await asyncio.open_unix_connection(self.target)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._links.update({writer, up_writer})
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while self.open and (chunk := await reader.read(65536)):
                writer.write(chunk)
                await writer.drain()
        finally:
            self._links.discard(writer)
            writer.close()

    def cut(self) -> None:
        self.open = False
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def via_proxy(database_url: str, proxy: Proxy) -> str:
    """The same database, reached over TCP through the proxy."""
    url = make_url(database_url)
    return url.set(host="127.0.0.1", port=proxy.port, query={}).render_as_string(
        hide_password=False
    )


def postgres_address(database_url: str) -> str | tuple[str, int]:
    """Where the test database listens: its unix socket, or its host and port."""
    url = make_url(database_url)
    directory = url.query.get("host")
    if isinstance(directory, str):
        sockets = [s for s in Path(directory).glob(".s.PGSQL.*") if s.suffix != ".lock"]
        assert sockets, f"no Postgres socket in {directory}"
        return str(sockets[0])
    return (url.host or "127.0.0.1", url.port or 5432)


@pytest.fixture
async def proxy(fresh_database: str) -> AsyncIterator[Proxy]:
    made = Proxy(postgres_address(fresh_database))
    await made.start()
    yield made
    await made.close()


async def new_tenant(base_url: str, tenant_id: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        created = await client.post(
            "/v1/tenants", json={"id": tenant_id}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
    assert created.status_code == 201, created.text
    key: str = created.json()["api_key"]
    return key
