"""Session lifecycle as pure decisions: which status an idle time means under a tenant's
windows. `active` → `soft_expired` (still fully restorable) → `hard_expired` (handed to the
reflection worker) → `archived`."""

from datetime import datetime

from memory.session_state import Status
from memory.settings import LifecycleSettings

_FINAL: frozenset[Status] = frozenset({"hard_expired", "archived"})


def status_at(
    durable: Status, last_active_at: datetime, now: datetime, windows: LifecycleSettings
) -> Status:
    """The status a session has at `now`; a hard-expired or archived session stays so."""
    if durable in _FINAL:
        return durable
    idle_s = (now - last_active_at).total_seconds()
    if idle_s >= windows.hard_expiry_s:
        return "hard_expired"
    if idle_s >= windows.soft_expiry_s:
        return "soft_expired"
    return "active"


def restorable(status: Status) -> bool:
    """Whether the session can continue as it was, window and active flow included."""
    return status in ("active", "soft_expired")
