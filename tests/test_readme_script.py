"""The README's "first five minutes" block, run as written against a real `memstrata serve`:
from a new tenant to facts, a session summary and a journal entry. Only the address (the
test's free port) and the command that runs the worker (this interpreter, on the service's
database) are put in for the ones the README names."""

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.services import Service

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- first-five-minutes -->"


def readme_block() -> str:
    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index(MARKER) + len(MARKER) :]
    found = re.search(r"```bash\n(.*?)```", after, re.DOTALL)
    assert found is not None, "the README lost its first-five-minutes block"
    return found.group(1)


async def test_the_first_five_minutes_run_as_written(fresh_database: str, tmp_path: Path) -> None:
    script = readme_block()
    assert "M=http://127.0.0.1:8421\n" in script and ".venv/bin/memstrata worker --once" in script
    service = Service(fresh_database, tmp_path, {"MEMSTRATA_API__ADMIN_KEY": "change-me"})
    service.start()
    try:
        await service.ready()
        runnable = script.replace("M=http://127.0.0.1:8421\n", f"M={service.url}\n").replace(
            ".venv/bin/memstrata", f"{sys.executable} -m service"
        )
        env = {
            **os.environ,
            "MEMSTRATA_DATABASE_URL": fresh_database,
            "MEMSTRATA_REFLECTION__EXTRACTION": "rules",
            "HF_HUB_OFFLINE": "1",
        }
        started = time.monotonic()
        done = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-euo", "pipefail", "-c", runnable],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        took = time.monotonic() - started
        assert done.returncode == 0, done.stderr[-3000:] + service.log()
        log.info("the README's first five minutes took %.1f s", took)  # measured, not asserted
        facts, summaries, journal = (json.loads(line) for line in done.stdout.splitlines()[-3:])
        said = " ".join(f["text"] for f in facts)
        assert "Lisbon" in said and "peanuts" in said
        assert summaries and summaries[0]["text"]
        assert journal is not None and "half marathon" in journal["content"]
    finally:
        service.stop()
