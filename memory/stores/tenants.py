"""Per-tenant settings: the lifecycle windows (DESIGN §5), resumption thresholds (§6) and
extraction choice a tenant overrides on top of the service defaults.

A tenant's settings are data a possibly hostile tenant sent, so they are validated to the
same ranges as the service's own settings when written, and validated again when read
(rows written by an older version may hold anything): an unusable stored section is
logged and replaced by the service defaults, for that tenant only. Everything downstream —
the sweeps, the device check, retention — gets resolved numbers from here and never
parses a tenant's JSON in SQL."""

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import external_id
from memory.core.errors import InvalidInput
from memory.core.settings import (
    TENANT_LIFECYCLE_FIELDS,
    LifecycleSettings,
    ResumptionSettings,
    TenantReflection,
)
from memory.infra.rls import unscoped_transaction

log = logging.getLogger(__name__)

_GET = text("SELECT lifecycle, resumption, reflection FROM tenants WHERE id = :tenant_id")
_SET = text("""
INSERT INTO tenants (id, name, lifecycle, resumption, reflection)
VALUES (:tenant_id, :tenant_id, CAST(:lifecycle AS jsonb), CAST(:resumption AS jsonb),
        CAST(:reflection AS jsonb))
ON CONFLICT (id) DO UPDATE SET lifecycle = excluded.lifecycle,
    resumption = excluded.resumption, reflection = excluded.reflection
""")
_ALL = text("SELECT id FROM tenants ORDER BY id")
_EXISTS = text("SELECT 1 FROM tenants WHERE id = :tenant_id")

Section = TypeVar("Section", bound=BaseModel)


@dataclass(frozen=True)
class TenantSettings:
    lifecycle: LifecycleSettings
    resumption: ResumptionSettings
    reflection: TenantReflection = field(default_factory=TenantReflection)


def _merged(
    defaults: Section, overrides: Mapping[str, Any], field: str, allowed: frozenset[str]
) -> Section:
    """The defaults with a tenant's overrides, validated as a whole."""
    if not isinstance(overrides, Mapping):
        raise InvalidInput(field, "must be an object")
    unknown = set(overrides) - allowed
    if unknown:
        raise InvalidInput(field, f"unknown or not per-tenant: {', '.join(sorted(unknown))}")
    try:
        return type(defaults).model_validate(defaults.model_dump() | dict(overrides))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidInput(f"{field}.{where}" if where else field, str(error["msg"])) from exc


def _checked_lifecycle(merged: LifecycleSettings) -> LifecycleSettings:
    if merged.soft_expiry_s >= merged.hard_expiry_s:
        raise InvalidInput("lifecycle", "soft_expiry_s must be shorter than hard_expiry_s")
    return merged


def _checked_resumption(merged: ResumptionSettings) -> ResumptionSettings:
    if merged.full_restore_max_gap_s >= merged.primed_max_gap_s:
        raise InvalidInput(
            "resumption", "full_restore_max_gap_s must be shorter than primed_max_gap_s"
        )
    return merged


_LIFECYCLE = TENANT_LIFECYCLE_FIELDS
_RESUMPTION = frozenset(ResumptionSettings.model_fields)
_REFLECTION = frozenset(TenantReflection.model_fields)


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
        async with unscoped_transaction(self._engine) as conn:
            params = {"tenant_id": external_id(tenant_id, "tenant_id")}
            row = (await conn.execute(_GET, params)).first()
        settings = TenantSettings(
            self._stored(tenant_id, "lifecycle", row.lifecycle if row else None),
            self._stored(tenant_id, "resumption", row.resumption if row else None),
            self._stored(tenant_id, "reflection", row.reflection if row else None),
        )
        self._cache[tenant_id] = (time.monotonic(), settings)
        return settings

    def _stored(self, tenant_id: str, section: str, stored: object) -> Any:
        """One stored section resolved against the defaults; unusable → the defaults."""
        try:
            return self._resolve(section, stored or {})
        except InvalidInput as exc:
            log.error(
                "tenant %s has unusable %s settings (%s); using the service defaults",
                tenant_id,
                section,
                exc.message,
                extra={"tenant": tenant_id, "section": section},
            )
            return self._resolve(section, {})

    def _resolve(self, section: str, overrides: object) -> Any:
        if not isinstance(overrides, Mapping):
            raise InvalidInput(section, "must be an object")
        if section == "lifecycle":
            merged = _merged(self._defaults.lifecycle, overrides, section, _LIFECYCLE)
            return _checked_lifecycle(merged)
        if section == "resumption":
            merged_r = _merged(self._defaults.resumption, overrides, section, _RESUMPTION)
            return _checked_resumption(merged_r)
        return _merged(TenantReflection(), overrides, section, _REFLECTION)

    async def lifecycle(self, tenant_id: str) -> LifecycleSettings:
        """The tenant's windows: its overrides on top of the service defaults."""
        return (await self.settings(tenant_id)).lifecycle

    async def resumption(self, tenant_id: str) -> ResumptionSettings:
        return (await self.settings(tenant_id)).resumption

    async def exists(self, tenant_id: str) -> bool:
        async with unscoped_transaction(self._engine) as conn:
            return await conn.scalar(_EXISTS, {"tenant_id": tenant_id}) is not None

    async def tenant_ids(self) -> list[str]:
        """Every tenant, for the sweeps that run tenant by tenant."""
        async with unscoped_transaction(self._engine) as conn:
            return [str(tenant) for tenant in (await conn.scalars(_ALL)).all()]

    async def update(
        self,
        tenant_id: str,
        *,
        lifecycle: Mapping[str, Any] | None = None,
        resumption: Mapping[str, Any] | None = None,
        reflection: Mapping[str, Any] | None = None,
    ) -> TenantSettings:
        """Replace the given sections' overrides (an empty mapping restores a section's
        defaults; None leaves it as it is). Every section is validated before anything is
        written, and all are written in one transaction: all or nothing."""
        current = await self._raw(tenant_id)
        given = {"lifecycle": lifecycle, "resumption": resumption, "reflection": reflection}
        for section, overrides in given.items():
            if overrides is not None:
                self._resolve(section, overrides)
                current[section] = dict(overrides)
        current["reflection"] = self._resolve("reflection", current["reflection"]).model_dump(
            exclude_none=True
        )
        params = {
            "tenant_id": external_id(tenant_id, "tenant_id"),
            **{name: json.dumps(value) if value else None for name, value in current.items()},
        }
        async with unscoped_transaction(self._engine) as conn:
            await conn.execute(_SET, params)
        self._cache.pop(tenant_id, None)
        return await self.settings(tenant_id)

    async def _raw(self, tenant_id: str) -> dict[str, Any]:
        """The stored overrides as they are (usable ones only), to be updated."""
        async with unscoped_transaction(self._engine) as conn:
            params = {"tenant_id": external_id(tenant_id, "tenant_id")}
            row = (await conn.execute(_GET, params)).first()
        raw: dict[str, Any] = {}
        for section in ("lifecycle", "resumption", "reflection"):
            stored = getattr(row, section) if row else None
            try:
                self._resolve(section, stored or {})
                raw[section] = dict(stored or {})
            except InvalidInput:
                raw[section] = {}
        return raw

    async def set_lifecycle(self, tenant_id: str, overrides: dict[str, int]) -> LifecycleSettings:
        """Replace the tenant's lifecycle overrides (an empty dict restores the defaults)."""
        return (await self.update(tenant_id, lifecycle=overrides)).lifecycle

    async def set_resumption(self, tenant_id: str, overrides: dict[str, int]) -> ResumptionSettings:
        """Replace the tenant's resumption overrides (an empty dict restores the defaults)."""
        return (await self.update(tenant_id, resumption=overrides)).resumption

    async def set_reflection(self, tenant_id: str, choice: dict[str, Any]) -> TenantReflection:
        """Replace the tenant's extraction mode, model and redaction (an empty dict: the
        defaults)."""
        return (await self.update(tenant_id, reflection=choice)).reflection
