"""The `/v1` routes of what callers attach: one user's overview and metadata, a session's
metadata, and a user's conversation threads. Messages carry their metadata and a session
its thread from the append that opens it (`service.routes`)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from memory.core.errors import NotFound
from memory.core.session_state import SessionState
from service import schemas
from service.deps import HistoryDep, LabelsDep, ScopeDep
from service.routes import with_etag

router = APIRouter(prefix="/v1")


@router.get("/users/{user_id}")
async def read_user(scope: ScopeDep, history: HistoryDep) -> schemas.UserOut:
    """One user: created when, how many sessions, last active, and their metadata."""
    found = await history.user(scope)
    if found is None:
        raise NotFound(f"user {scope.user_id} not found")
    return schemas.UserOut.model_validate(found)


@router.put("/users/{user_id}/metadata")
async def set_user_metadata(
    body: schemas.MetadataIn, scope: ScopeDep, labels: LabelsDep
) -> schemas.UserOut:
    """Replace the user's metadata (`{}` clears it); a new user id is created, as its first
    message would create it."""
    return schemas.UserOut.model_validate(await labels.set_user(scope, body.metadata))


@router.put("/users/{user_id}/sessions/{session_id}/metadata")
async def set_session_metadata(
    session_id: str,
    body: schemas.MetadataIn,
    scope: ScopeDep,
    labels: LabelsDep,
    response: Response,
) -> SessionState:
    """Replace the session's metadata (`{}` clears it); the session's new version is the
    ETag. 404 if the user has no such session."""
    return with_etag(response, await labels.set_session(scope, session_id, body.metadata))


@router.get("/users/{user_id}/threads")
async def list_threads(
    scope: ScopeDep,
    history: HistoryDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[schemas.ThreadOut]:
    """The user's conversation threads, most recently active first, with their sessions."""
    return [schemas.ThreadOut.model_validate(t) for t in await history.threads(scope, limit)]
