"""/api/v1/clients/{client_id}/consents (clinical roles only: schedulers get 403)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import Clinical
from app.clock import Now
from app.common.http import IfMatch, check_version, set_etag
from app.common.pagination import Pagination, split_page
from app.common.schemas import InputTimestamp, Page
from app.consents import service
from app.consents.read_models import to_read
from app.consents.repository import ConsentFilters
from app.consents.rules import ConsentKind, ConsentStatus
from app.consents.schemas import EVIDENCE, IN_FORCE, ConsentCreate, ConsentRead, ConsentWithdraw
from app.db import DbSession
from app.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unauthorized,
    ValidationFailed,
    VersionConflict,
    responses_for,
)
from app.idempotency.dependencies import idempotent, replay_responses
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/clients/{client_id}/consents",
    tags=["consents"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden, NotFound),
)


@router.post(
    "",
    status_code=201,
    response_model=ConsentRead,
    dependencies=[idempotent(Clinical)],
    responses=replay_responses(responses_for(ValidationFailed)),
)
async def create_consent(
    client_id: uuid.UUID,
    body: ConsentCreate,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
) -> ConsentRead:
    """Record a consent the client signed (the form's kind and version, when it was signed and
    when it lapses). Consents are never deleted: withdraw one instead."""
    client = await service.client_of_clinic(db, principal, client_id)
    consent = await service.record(db, principal, client, body, now)
    response.headers["Location"] = f"/api/v1/clients/{client.id}/consents/{consent.id}"
    set_etag(response, consent.version)
    return to_read(consent, now)


@router.get("", response_model=Page[ConsentRead])
async def list_consents(
    client_id: uuid.UUID,
    principal: Clinical,
    db: DbSession,
    now: Now,
    page: Pagination,
    kind: Annotated[ConsentKind | None, Query()] = None,
    status: Annotated[
        ConsentStatus | None, Query(description="Their status as of now. " + EVIDENCE)
    ] = None,
    in_force_at: Annotated[
        InputTimestamp | None,
        Query(description=f"Only those in force at this instant. {IN_FORCE} {EVIDENCE}"),
    ] = None,
) -> Page[ConsentRead]:
    """The client's consents, withdrawn and expired ones included, in the order signed."""
    client = await service.client_of_clinic(db, principal, client_id)
    filters = ConsentFilters(kind, status, in_force_at)
    rows = await service.list_page(db, principal, client, filters, page, now)
    items, cursor = split_page(rows, page, lambda c: (c.signed_at, c.id))
    return Page[ConsentRead](items=[to_read(c, now) for c in items], next_cursor=cursor)


@router.get("/{consent_id}", response_model=ConsentRead)
async def get_consent(
    client_id: uuid.UUID,
    consent_id: uuid.UUID,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
) -> ConsentRead:
    """One consent of the client, with its status as of now."""
    client = await service.client_of_clinic(db, principal, client_id)
    consent = await service.get_one(db, principal, client, consent_id)
    set_etag(response, consent.version)
    return to_read(consent, now)


@router.post(
    "/{consent_id}/withdraw",
    response_model=ConsentRead,
    responses=responses_for(ValidationFailed, InvalidTransition, Conflict, VersionConflict),
)
async def withdraw_consent(
    client_id: uuid.UUID,
    consent_id: uuid.UUID,
    body: ConsentWithdraw,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> ConsentRead:
    """Record that the client withdrew the consent: it is not in force from now on. Only an
    active consent can be withdrawn (409 `invalid_transition` otherwise)."""
    client = await service.client_of_clinic(db, principal, client_id)
    consent = await service.get_one(db, principal, client, consent_id)
    check_version(if_match, consent.version)
    consent = await service.withdraw(db, principal, consent, body.reason, now)
    set_etag(response, consent.version)
    return to_read(consent, now)
