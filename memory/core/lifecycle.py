"""Session lifecycle as pure decisions: which status an idle time means under a tenant's
windows. `active` → `soft_expired` (still fully restorable) → `hard_expired` (handed to the
reflection worker) → `archived`."""

from datetime import datetime

from memory.core.domain import SessionStatus
from memory.core.settings import LifecycleSettings

_FINAL = frozenset({SessionStatus.HARD_EXPIRED, SessionStatus.ARCHIVED})


def status_at(
    durable: SessionStatus, last_active_at: datetime, now: datetime, windows: LifecycleSettings
) -> SessionStatus:
    """The status a session has at `now`; a hard-expired or archived session stays so."""
    if durable in _FINAL:
        return durable
    idle_s = (now - last_active_at).total_seconds()
    if idle_s >= windows.hard_expiry_s:
        return SessionStatus.HARD_EXPIRED
    if idle_s >= windows.soft_expiry_s:
        return SessionStatus.SOFT_EXPIRED
    return SessionStatus.ACTIVE


def restorable(status: SessionStatus) -> bool:
    """Whether the session can continue as it was, window and active flow included."""
    return status in (SessionStatus.ACTIVE, SessionStatus.SOFT_EXPIRED)
