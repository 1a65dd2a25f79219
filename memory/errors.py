"""Every error memstrata raises on purpose. Driver errors are mapped to these at the adapter
boundary; the HTTP layer maps them to problem+json in one place.

    MemstrataError
    ├── InvalidInput            bad content, role, id, time or argument   (422)
    ├── NotFound                no such record in this scope             (404)
    ├── Conflict                a concurrent or contradictory write       (409)
    │   └── IdempotencyMismatch a key reused for a different message      (409)
    ├── ConfigurationError      the deployment cannot work as configured  (500 at start-up)
    └── BackendUnavailable      Postgres, Redis or a model endpoint down  (503)
"""


class MemstrataError(Exception):
    """Base of every domain error; `code` is a stable machine-readable name."""

    code = "memstrata_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(MemstrataError):
    code = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(MemstrataError):
    code = "not_found"


class Conflict(MemstrataError):
    code = "conflict"


class IdempotencyMismatch(Conflict):
    code = "idempotency_mismatch"


class ConfigurationError(MemstrataError):
    code = "configuration_error"


class BackendUnavailable(MemstrataError):
    code = "backend_unavailable"
