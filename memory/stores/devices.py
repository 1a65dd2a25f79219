"""Cross-device continuity: at most one active device per user. A write that names its
device checks, inside its own transaction and under a per-user advisory lock, that no other
device holds the user (was the last to be active within the soft-expiry window) — unless it
takes over, after which it holds the user itself."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from memory.core.errors import OtherDeviceActive

# Serializes a user's device-bound writes so that two devices cannot both pass the check.
_LOCK_USER = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(:tenant_id || '/' || :user_id, 7))"
)

# The device that holds the user: the device of the user's most recently active session
# that names one, if that session is still active within the soft window. A takeover
# makes the taking device's session the most recent, so it holds from then on — its next
# turns need no flag, and the device it took over from is the one refused.
_HOLDER = text("""
SELECT id, device_id FROM sessions
WHERE tenant_id = :tenant_id AND user_id = :user_id AND device_id IS NOT NULL
  AND status = 'active' AND last_active_at > :active_since
ORDER BY last_active_at DESC, id LIMIT 1
""")


@dataclass(frozen=True, slots=True)
class DeviceGuard:
    """The device a write comes from, whether it takes over from another active device,
    and the user's soft-expiry window (the tenant's, resolved by the caller)."""

    id: str
    takeover: bool
    soft_expiry_s: int

    async def check(self, conn: AsyncConnection, params: dict[str, Any]) -> None:
        """Within the caller's transaction: lock the user, then refuse if another device
        holds the user. `params` carries tenant_id, user_id, device_id and at."""
        await conn.execute(_LOCK_USER, params)
        if self.takeover:
            return
        since = {**params, "active_since": params["at"] - timedelta(seconds=self.soft_expiry_s)}
        holder = (await conn.execute(_HOLDER, since)).first()
        if holder is not None and holder.device_id != params["device_id"]:
            raise OtherDeviceActive(holder.device_id, holder.id)
