"""Cross-device continuity: at most one active device per user. A write that names its
device checks, inside its own transaction and under a per-user advisory lock, that no other
device of the user was active within the soft-expiry window — unless it takes over."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from memory.errors import OtherDeviceActive

# Serializes a user's device-bound writes so that two devices cannot both pass the check.
_LOCK_USER = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(:tenant_id || '/' || :user_id, 7))"
)

# The user's most recently active session on another device, within the soft window
# (the tenant's override, else the service default). `status = 'active'` leaves out
# sessions the sweep already expired.
_OTHER_DEVICE = text("""
SELECT id, device_id FROM sessions
WHERE tenant_id = :tenant_id AND user_id = :user_id
  AND device_id IS NOT NULL AND device_id <> :device_id AND status = 'active'
  AND last_active_at > CAST(:at AS timestamptz) - make_interval(secs => coalesce(
        (SELECT (lifecycle ->> 'soft_expiry_s')::int FROM tenants WHERE id = :tenant_id),
        :default_soft_expiry_s))
ORDER BY last_active_at DESC LIMIT 1
""")


@dataclass(frozen=True, slots=True)
class DeviceGuard:
    """The device a write comes from, whether it takes over from another active device,
    and the service's default soft-expiry window."""

    id: str
    takeover: bool
    default_soft_expiry_s: int

    async def check(self, conn: AsyncConnection, params: dict[str, Any]) -> None:
        """Within the caller's transaction: lock the user, then refuse if another device
        is active. `params` carries tenant_id, user_id, device_id and at."""
        await conn.execute(_LOCK_USER, params)
        if self.takeover:
            return
        guard = {**params, "default_soft_expiry_s": self.default_soft_expiry_s}
        other = (await conn.execute(_OTHER_DEVICE, guard)).first()
        if other is not None:
            raise OtherDeviceActive(other.device_id, other.id)
