"""Logging for the processes: one JSON object per line (structlog over the standard
library), carrying the fields each event was logged with — layer, key, operation, tenant,
user, session — and the id of the request being served."""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from memory.core.requests import request_id


def _request_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    current = request_id.get()
    if current is not None and "request_id" not in event:
        event["request_id"] = current
    return event


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now, not what it was when logging was set up
    (test runners and embedding hosts swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        return None


def configure(level: int = logging.INFO, json_lines: bool = True) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            _request_context,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _Stderr()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
