"""The `/v1` routes for API keys: the admin's, for any tenant (`/tenants/{t}/keys`), and a
tenant's own (`/tenant/keys`) — list, add, rename, expire, revoke. A key is shown once,
when it is made; afterwards only its name, dates and id."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from memory.core.errors import InvalidInput, NotFound
from memory.stores.api_keys import ApiKeyStore, NewKey
from memory.stores.tenants import TenantStore
from service import schemas
from service.deps import ApiKeysDep, TenantDep, TenantsDep, admin

router = APIRouter(prefix="/v1")


def shown(created: NewKey) -> schemas.TenantKey:
    return schemas.TenantKey(
        tenant_id=created.tenant_id,
        key_id=created.id,
        api_key=created.key,
        name=created.name,
        expires_at=created.expires_at,
    )


async def _existing(tenants: TenantStore, tenant_id: str) -> str:
    if not await tenants.exists(tenant_id):
        raise NotFound(f"tenant {tenant_id!r} not found")
    return tenant_id


KeyId = Annotated[uuid.UUID, Path()]


@router.get("/tenants/{tenant_id}/keys", dependencies=[Depends(admin)])
async def tenant_keys(
    tenant_id: str, keys: ApiKeysDep, tenants: TenantsDep
) -> list[schemas.KeyOut]:
    """A tenant's keys (admin): names, creation, expiry, revocation; never the keys."""
    found = await keys.keys(await _existing(tenants, tenant_id))
    return [schemas.KeyOut.model_validate(k) for k in found]


@router.post("/tenants/{tenant_id}/keys", status_code=201, dependencies=[Depends(admin)])
async def add_tenant_key(
    tenant_id: str, body: schemas.NewKeyIn, keys: ApiKeysDep, tenants: TenantsDep
) -> schemas.TenantKey:
    """Another key for an existing tenant (admin), shown only now."""
    await _existing(tenants, tenant_id)
    return shown(await keys.create(tenant_id, body.name, body.expires_at))


@router.patch("/tenants/{tenant_id}/keys/{key_id}", dependencies=[Depends(admin)])
async def change_tenant_key(
    tenant_id: str, key_id: KeyId, body: schemas.KeyChangeIn, keys: ApiKeysDep
) -> schemas.KeyOut:
    """Rename a tenant's key or set when it expires (admin)."""
    return await _changed(keys, tenant_id, key_id, body)


@router.delete("/tenants/{tenant_id}/keys/{key_id}", status_code=204, dependencies=[Depends(admin)])
async def revoke_tenant_key(tenant_id: str, key_id: KeyId, keys: ApiKeysDep) -> Response:
    """Revoke a tenant's key (admin): refused from the next request on."""
    await keys.revoke(tenant_id, key_id)
    return Response(status_code=204)


@router.get("/tenant/keys")
async def my_keys(tenant_id: TenantDep, keys: ApiKeysDep) -> list[schemas.KeyOut]:
    """This tenant's keys: names, creation, expiry, revocation; never the keys."""
    return [schemas.KeyOut.model_validate(k) for k in await keys.keys(tenant_id)]


@router.post("/tenant/keys", status_code=201)
async def add_my_key(
    body: schemas.NewKeyIn, tenant_id: TenantDep, keys: ApiKeysDep
) -> schemas.TenantKey:
    """Another key for this tenant (to rotate: make one, move over, revoke the old)."""
    return shown(await keys.create(tenant_id, body.name, body.expires_at))


@router.patch("/tenant/keys/{key_id}")
async def change_my_key(
    key_id: KeyId, body: schemas.KeyChangeIn, tenant_id: TenantDep, keys: ApiKeysDep
) -> schemas.KeyOut:
    """Rename one of this tenant's keys or set when it expires."""
    return await _changed(keys, tenant_id, key_id, body)


@router.delete("/tenant/keys/{key_id}", status_code=204)
async def revoke_my_key(key_id: KeyId, tenant_id: TenantDep, keys: ApiKeysDep) -> Response:
    """Revoke one of this tenant's keys, the one in use included."""
    await keys.revoke(tenant_id, key_id)
    return Response(status_code=204)


async def _changed(
    keys: ApiKeyStore, tenant_id: str, key_id: uuid.UUID, body: schemas.KeyChangeIn
) -> schemas.KeyOut:
    if body.never_expires and body.expires_at is not None:
        raise InvalidInput("expires_at", "give an expiry or never_expires, not both")
    changed = await keys.change(
        tenant_id,
        key_id,
        name=body.name,
        expires_at=body.expires_at,
        clear_expiry=body.never_expires,
    )
    return schemas.KeyOut.model_validate(changed)
