"""The worker beside `memstrata serve`: on the embedded default (or when asked), `serve`
runs `memstrata worker` as a child process and restarts it if it dies. A process of its
own, not a scheduler on the API's event loop: extraction, redaction, embedding and
synthesis are CPU work on what tenants send, and none of it may slow, stop or break the
answers other tenants are waiting for."""

import asyncio
import contextlib
import logging
import signal
import sys

log = logging.getLogger(__name__)

COMMAND = (sys.executable, "-m", "service", "worker")
STOP_WITHIN_S = 15.0
MAX_BACKOFF_S = 30.0


class WorkerProcess:
    """Starts the worker, restarts it with backoff when it exits, stops it on `stop()`."""

    def __init__(self, command: tuple[str, ...] = COMMAND) -> None:
        self._command = command
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="worker-supervisor")

    async def _supervise(self) -> None:
        backoff = 1.0
        while not self._stopping:
            self._process = await asyncio.create_subprocess_exec(*self._command)
            log.info("worker started", extra={"pid": self._process.pid})
            code = await self._process.wait()
            if self._stopping:
                return
            self.restarts += 1
            log.warning(
                "worker exited with %s; restarting in %.0f s",
                code,
                backoff,
                extra={"pid": self._process.pid, "exit_code": code},
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def stop(self) -> None:
        """Ask the worker to finish (SIGTERM), then kill it if it does not in time."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_WITHIN_S)
            except TimeoutError:
                log.warning("worker did not stop in time; killing it")
                process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
