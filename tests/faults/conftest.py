"""Real processes on loopback for the fault suite (`memstrata serve` itself is in
`tests/services.py`): a TCP proxy in front of Postgres that a test may cut. Every wait
is bounded in time."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.services import free_port


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
