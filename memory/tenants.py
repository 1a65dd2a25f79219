"""Per-tenant settings: today the lifecycle windows a tenant overrides (DESIGN §5)."""

import json
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.domain import external_id
from memory.errors import InvalidInput
from memory.settings import LifecycleSettings

_GET = text("SELECT lifecycle FROM tenants WHERE id = :tenant_id")
_SET = text("""
INSERT INTO tenants (id, name, lifecycle) VALUES (:tenant_id, :tenant_id, CAST(:lifecycle AS jsonb))
ON CONFLICT (id) DO UPDATE SET lifecycle = excluded.lifecycle
""")


class TenantStore:
    """Reads are cached in-process for `cache_s` seconds: the windows are consulted on every
    turn and change rarely; another process sees a change within that time."""

    def __init__(self, engine: AsyncEngine, defaults: LifecycleSettings, cache_s: float) -> None:
        self._engine = engine
        self._defaults = defaults
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, LifecycleSettings]] = {}

    async def lifecycle(self, tenant_id: str) -> LifecycleSettings:
        """The tenant's windows: its overrides on top of the service defaults."""
        cached = self._cache.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] < self._cache_s:
            return cached[1]
        async with self._engine.connect() as conn:
            overrides = await conn.scalar(_GET, {"tenant_id": external_id(tenant_id, "tenant_id")})
        windows = self._defaults.model_copy(update=overrides or {})
        self._cache[tenant_id] = (time.monotonic(), windows)
        return windows

    async def set_lifecycle(self, tenant_id: str, overrides: dict[str, int]) -> LifecycleSettings:
        """Replace the tenant's overrides (an empty dict restores the defaults)."""
        unknown = set(overrides) - set(LifecycleSettings.model_fields)
        if unknown:
            raise InvalidInput("lifecycle", f"unknown windows: {', '.join(sorted(unknown))}")
        try:
            merged = LifecycleSettings.model_validate(self._defaults.model_dump() | overrides)
        except ValueError as exc:
            raise InvalidInput("lifecycle", str(exc)) from exc
        if merged.soft_expiry_s >= merged.hard_expiry_s:
            raise InvalidInput("lifecycle", "soft_expiry_s must be shorter than hard_expiry_s")
        params = {
            "tenant_id": external_id(tenant_id, "tenant_id"),
            "lifecycle": json.dumps(overrides) if overrides else None,
        }
        async with self._engine.begin() as conn:
            await conn.execute(_SET, params)
        self._cache.pop(tenant_id, None)
        return merged
