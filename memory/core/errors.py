"""Every error memstrata raises on purpose. Driver errors are mapped to these at the adapter
boundary; the HTTP layer maps them to problem+json in one place.

    MemstrataError
    ├── InvalidInput            bad content, role, id, time or argument   (422)
    ├── NotFound                no such record in this scope             (404)
    ├── Forgotten               the user was forgotten while a job ran for them (the job
    │                           stops; never reaches an API caller)
    ├── Conflict                a concurrent or contradictory write       (409)
    │   ├── IdempotencyMismatch a key reused for a different message      (409)
    │   ├── ConstraintViolation a write the database's constraints refused (409)
    │   └── OtherDeviceActive   another device holds the user's active session (409)
    ├── ConfigurationError      the deployment cannot work as configured  (500 at start-up)
    ├── BackendUnavailable      Postgres, Redis or a model endpoint down  (503)
    └── CorruptState            a cached entry that cannot be trusted (never reaches callers:
                                the state is rebuilt from Postgres)
"""

import uuid


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


class Forgotten(MemstrataError):
    """The user a background job works for was forgotten while it ran: the job must stop
    and write nothing more."""

    code = "forgotten"


class Conflict(MemstrataError):
    code = "conflict"


class ConstraintViolation(Conflict):
    """A write the database's constraints refused (a key taken concurrently, a parent row
    deleted meanwhile); stores that expect one turn it into what it means for them."""


class IdempotencyMismatch(Conflict):
    code = "idempotency_mismatch"


class OtherDeviceActive(Conflict):
    """The user is active on another device; continuing here needs an explicit takeover."""

    code = "other_device_active"

    def __init__(self, device_id: str, session_id: uuid.UUID) -> None:
        super().__init__(
            f"device {device_id!r} is active in session {session_id}; "
            "pass takeover=true to continue on this device"
        )
        self.device_id = device_id
        self.session_id = session_id


class ConfigurationError(MemstrataError):
    code = "configuration_error"


class BackendUnavailable(MemstrataError):
    code = "backend_unavailable"


class CorruptState(MemstrataError):
    code = "corrupt_state"
