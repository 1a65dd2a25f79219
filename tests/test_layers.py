"""The package layering of DESIGN §2, as import-linter contracts in pyproject.toml."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--config",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout, done.stdout


# A statement that writes the `sessions` table, however it is spaced or cased.
_WRITES_SESSIONS = re.compile(r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+sessions\b", re.I)


def test_only_the_session_rows_module_writes_the_sessions_table() -> None:
    """Every change to a session row (and the `version` the hot cache trusts) goes through
    `memory.stores.session_rows`."""
    writers = {
        str(path.relative_to(ROOT))
        for package in ("memory", "reflection", "resume", "service", "evals")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and _WRITES_SESSIONS.search(path.read_text())
    }
    assert writers == {"memory/stores/session_rows.py"}
