"""The one place where domain errors become HTTP answers: RFC 9457 problem+json bodies,
never a traceback."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from memory.core.crypto import KeyMissing
from memory.core.errors import (
    BackendUnavailable,
    ConfigurationError,
    Conflict,
    InvalidInput,
    MemstrataError,
    NotFound,
)

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5


class Unauthorized(MemstrataError):
    code = "unauthorized"


class Forbidden(MemstrataError):
    code = "forbidden"


_STATUS: list[tuple[type[MemstrataError], int, str]] = [
    (Unauthorized, 401, "Unauthorized"),
    (Forbidden, 403, "Forbidden"),
    (InvalidInput, 422, "Invalid input"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (BackendUnavailable, 503, "Backend unavailable"),
    # Data sealed with a key this process lacks: unavailable until the operator adds it.
    (KeyMissing, 503, "Encryption key missing"),
    (ConfigurationError, 500, "Misconfigured"),
]


def problem(status: int, title: str, detail: str, code: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"urn:memstrata:{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
        },
        status_code=status,
        media_type="application/problem+json",
    )


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MemstrataError)
    for kind, status, title in _STATUS:
        if isinstance(exc, kind):
            response = problem(status, title, exc.message, exc.code)
            if status == 503:
                response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response
    log.error("unmapped domain error", exc_info=exc)
    return problem(500, "Internal error", "an unexpected error occurred", exc.code)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return problem(422, "Invalid input", details, InvalidInput.code)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing answers (404 no such route, 405 wrong method) in the same problem form."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    response = problem(exc.status_code, str(exc.detail), str(exc.detail), code)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("Postgres unreachable: %s", exc)
    response = problem(
        503, "Backend unavailable", "the database is unreachable; retry soon", "backend_unavailable"
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Anything unforeseen: logged with its traceback and answered as a 500 problem. If the
    answer had started, nothing is sent: Starlette re-raises to the server, which drops the
    connection, so a half-sent answer never looks complete."""
    log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    response = problem(500, "Internal error", "an unexpected error occurred", "internal_error")
    response.headers["X-Content-Type-Options"] = "nosniff"  # outside every middleware
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(MemstrataError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for driver_error in (OperationalError, InterfaceError, ConnectionError, OSError):
        app.add_exception_handler(driver_error, _database_down)
