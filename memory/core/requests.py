"""The id of the request being served, carried to every log event; the API sets it."""

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("memstrata_request_id", default=None)
