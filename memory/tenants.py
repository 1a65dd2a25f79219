"""Per-tenant settings: the lifecycle windows (DESIGN §5) and resumption thresholds (§6) a
tenant overrides on top of the service defaults."""

import json
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.domain import external_id
from memory.errors import InvalidInput
from memory.settings import LifecycleSettings, ResumptionSettings, TenantReflection

_GET = text("SELECT lifecycle, resumption, reflection FROM tenants WHERE id = :tenant_id")
_SET = {
    column: text(f"""
INSERT INTO tenants (id, name, {column}) VALUES (:tenant_id, :tenant_id, CAST(:value AS jsonb))
ON CONFLICT (id) DO UPDATE SET {column} = excluded.{column}
""")
    for column in ("lifecycle", "resumption", "reflection")
}

Section = TypeVar("Section", bound=BaseModel)


@dataclass(frozen=True)
class TenantSettings:
    lifecycle: LifecycleSettings
    resumption: ResumptionSettings
    reflection: TenantReflection = field(default_factory=TenantReflection)


def _merged(defaults: Section, overrides: dict[str, Any], field: str) -> Section:
    unknown = set(overrides) - set(type(defaults).model_fields)
    if unknown:
        raise InvalidInput(field, f"unknown settings: {', '.join(sorted(unknown))}")
    try:
        return type(defaults).model_validate(defaults.model_dump() | overrides)
    except ValidationError as exc:
        raise InvalidInput(field, str(exc.errors()[0]["msg"])) from exc


class TenantStore:
    """Reads are cached in-process for `cache_s` seconds: they are consulted on every turn
    and change rarely; another process sees a change within that time."""

    def __init__(
        self,
        engine: AsyncEngine,
        lifecycle: LifecycleSettings,
        cache_s: float,
        resumption: ResumptionSettings | None = None,
    ) -> None:
        self._engine = engine
        self._defaults = TenantSettings(lifecycle, resumption or ResumptionSettings())
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, TenantSettings]] = {}

    async def settings(self, tenant_id: str) -> TenantSettings:
        cached = self._cache.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] < self._cache_s:
            return cached[1]
        async with self._engine.connect() as conn:
            params = {"tenant_id": external_id(tenant_id, "tenant_id")}
            row = (await conn.execute(_GET, params)).first()
        settings = TenantSettings(
            self._defaults.lifecycle.model_copy(update=(row.lifecycle if row else None) or {}),
            self._defaults.resumption.model_copy(update=(row.resumption if row else None) or {}),
            TenantReflection.model_validate((row.reflection if row else None) or {}),
        )
        self._cache[tenant_id] = (time.monotonic(), settings)
        return settings

    async def lifecycle(self, tenant_id: str) -> LifecycleSettings:
        """The tenant's windows: its overrides on top of the service defaults."""
        return (await self.settings(tenant_id)).lifecycle

    async def resumption(self, tenant_id: str) -> ResumptionSettings:
        return (await self.settings(tenant_id)).resumption

    async def set_lifecycle(self, tenant_id: str, overrides: dict[str, int]) -> LifecycleSettings:
        """Replace the tenant's lifecycle overrides (an empty dict restores the defaults)."""
        merged = _merged(self._defaults.lifecycle, overrides, "lifecycle")
        if merged.soft_expiry_s >= merged.hard_expiry_s:
            raise InvalidInput("lifecycle", "soft_expiry_s must be shorter than hard_expiry_s")
        await self._write(tenant_id, "lifecycle", overrides)
        return merged

    async def set_resumption(self, tenant_id: str, overrides: dict[str, int]) -> ResumptionSettings:
        """Replace the tenant's resumption overrides (an empty dict restores the defaults)."""
        merged = _merged(self._defaults.resumption, overrides, "resumption")
        if merged.full_restore_max_gap_s >= merged.primed_max_gap_s:
            raise InvalidInput(
                "resumption", "full_restore_max_gap_s must be shorter than primed_max_gap_s"
            )
        await self._write(tenant_id, "resumption", overrides)
        return merged

    async def set_reflection(self, tenant_id: str, choice: dict[str, Any]) -> TenantReflection:
        """Replace the tenant's extraction mode, model and redaction (an empty dict: the
        defaults)."""
        merged = _merged(TenantReflection(), choice, "reflection")
        await self._write(tenant_id, "reflection", merged.model_dump(exclude_none=True))
        return merged

    async def _write(self, tenant_id: str, column: str, overrides: dict[str, Any]) -> None:
        params = {
            "tenant_id": external_id(tenant_id, "tenant_id"),
            "value": json.dumps(overrides) if overrides else None,
        }
        async with self._engine.begin() as conn:
            await conn.execute(_SET[column], params)
        self._cache.pop(tenant_id, None)
