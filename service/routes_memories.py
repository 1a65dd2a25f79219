"""The `/v1` routes for single memories by hand: add one the user asked to be remembered,
correct, delete or pin one, delete an insight, take back the last message of a session;
each change is a ledger run naming the key that made it."""

from fastapi import APIRouter, Response

from service import schemas
from service.deps import CallerDep, CurationDep, ScopeDep

router = APIRouter(prefix="/v1")


@router.post("/users/{user_id}/facts", status_code=201)
async def remember(
    body: schemas.MemoryIn, scope: ScopeDep, who: CallerDep, curation: CurationDep
) -> schemas.FactOut:
    """Add a memory the user asked to be remembered: the kind and importance given, the
    highest trust, redacted as extraction would be; `pinned` puts it in every profile. The
    identical current fact, if there is one, is returned instead of a second copy."""
    fact = await curation.remember(
        scope,
        body.kind,
        body.text,
        importance=body.importance,
        pinned=body.pinned,
        actor=who.actor,
    )
    return schemas.FactOut.model_validate(fact)


@router.post("/users/{user_id}/facts/{fact_id}/correction", status_code=201)
async def correct(
    fact_id: str,
    body: schemas.CorrectionIn,
    scope: ScopeDep,
    who: CallerDep,
    curation: CurationDep,
) -> schemas.FactOut:
    """Correct a current fact: a new version supersedes it (reading `as_of` before now still
    sees the old one). 409 if the fact is no longer current."""
    fact = await curation.correct(
        scope, fact_id, body.text, kind=body.kind, importance=body.importance, actor=who.actor
    )
    return schemas.FactOut.model_validate(fact)


@router.delete("/users/{user_id}/facts/{fact_id}", status_code=204)
async def delete_fact(
    fact_id: str, scope: ScopeDep, who: CallerDep, curation: CurationDep
) -> Response:
    """Delete one fact for good, and every insight that cites it."""
    await curation.forget_fact(scope, fact_id, actor=who.actor)
    return Response(status_code=204)


@router.put("/users/{user_id}/facts/{fact_id}/pin")
async def pin(
    fact_id: str, scope: ScopeDep, who: CallerDep, curation: CurationDep
) -> schemas.FactOut:
    """Pin a fact into the profile of every resumption context; idempotent."""
    return schemas.FactOut.model_validate(await curation.pin(scope, fact_id, actor=who.actor))


@router.delete("/users/{user_id}/facts/{fact_id}/pin")
async def unpin(
    fact_id: str, scope: ScopeDep, who: CallerDep, curation: CurationDep
) -> schemas.FactOut:
    """Unpin a fact; idempotent."""
    fact = await curation.pin(scope, fact_id, False, actor=who.actor)
    return schemas.FactOut.model_validate(fact)


@router.delete("/users/{user_id}/knowledge/{knowledge_id}", status_code=204)
async def delete_insight(
    knowledge_id: str, scope: ScopeDep, who: CallerDep, curation: CurationDep
) -> Response:
    """Delete one insight for good, every version of it."""
    await curation.forget_insight(scope, knowledge_id, actor=who.actor)
    return Response(status_code=204)


@router.delete("/users/{user_id}/sessions/{session_id}/messages/last")
async def retract_message(
    session_id: str, scope: ScopeDep, who: CallerDep, curation: CurationDep
) -> schemas.MessageOut | None:
    """Take back the session's last message (an agent framework's undo): it is deleted,
    the session's seq steps back (the transcript stays gapless; the next append takes its
    place) and the ledger names the key. Answers the message, or null when the session has
    none; 409 once the session has ended, 404 without it."""
    message, _state = await curation.retract_message(scope, session_id, actor=who.actor)
    return None if message is None else schemas.MessageOut.of(message)
