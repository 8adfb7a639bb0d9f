"""/api/v1/clients."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import AnyStaff, Clinical
from app.auth.principal import Principal
from app.clients import repository, service
from app.clients.models import Client, ClientStage
from app.clients.read_models import to_read
from app.clients.schemas import ClientCreate, ClientRead, ClientUpdate
from app.clients.schemas import Query as SearchText
from app.clock import Now
from app.common.http import IfMatch, check_version, set_etag
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
from app.db import DbSession
from app.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
    VersionConflict,
    responses_for,
)
from app.idempotency.dependencies import idempotent, replay_responses
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/clients",
    tags=["clients"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized),
)


async def _read(
    db: AsyncSession, principal: Principal, client: Client, now: datetime, response: Response
) -> ClientRead:
    """Re-read the client with its derived stage after a write."""
    _, stage = await service.get_client(db, principal, client.id, now)
    set_etag(response, client.version)
    return await _with_clearance(db, principal, client, stage, now)


async def _with_clearance(
    db: AsyncSession, principal: Principal, client: Client, stage: ClientStage, now: datetime
) -> ClientRead:
    clearances = await service.medical_clearances(db, principal, [client.id], now)
    return to_read(client, stage, clearances.get(client.id))


@router.post(
    "",
    status_code=201,
    response_model=ClientRead,
    dependencies=[idempotent(Clinical)],
    responses=replay_responses(responses_for(Forbidden, ValidationFailed)),
)
async def create_client(
    body: ClientCreate, principal: Clinical, db: DbSession, now: Now, response: Response
) -> ClientRead:
    """Register a client. Their stage is `intake` until a session is booked."""
    client = await service.create_client(db, principal, body, now)
    response.headers["Location"] = f"/api/v1/clients/{client.id}"
    return await _read(db, principal, client, now, response)


@router.get("", response_model=Page[ClientRead])
async def list_clients(
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    page: Pagination,
    q: Annotated[
        SearchText | None, Query(description="Case-insensitive search in names and email.")
    ] = None,
    stage: Annotated[ClientStage | None, Query()] = None,
    primary_clinician_id: Annotated[uuid.UUID | None, Query()] = None,
    include_archived: Annotated[bool, Query(description="Include archived clients.")] = False,
) -> Page[ClientRead]:
    """Clients by last name, then first name; for clinical roles each with their medical
    clearance."""
    filters = repository.ClientFilters(q, stage, primary_clinician_id, include_archived)
    rows = await repository.list_page(db, principal.clinic_id, filters, page, principal.policy, now)
    items, cursor = split_page(
        rows, page, lambda row: (row[0].last_name, row[0].first_name, row[0].id)
    )
    clearances = await service.medical_clearances(db, principal, [c.id for c, _ in items], now)
    reads = [to_read(c, s, clearances.get(c.id)) for c, s in items]
    return Page[ClientRead](items=reads, next_cursor=cursor)


@router.get("/{client_id}", response_model=ClientRead, responses=responses_for(NotFound))
async def get_client(
    client_id: uuid.UUID, principal: AnyStaff, db: DbSession, now: Now, response: Response
) -> ClientRead:
    """One client with their current stage and, for clinical roles, medical clearance."""
    client, stage = await service.get_client(db, principal, client_id, now)
    set_etag(response, client.version)
    return await _with_clearance(db, principal, client, stage, now)


@router.patch(
    "/{client_id}",
    response_model=ClientRead,
    responses=responses_for(Forbidden, NotFound, ValidationFailed, VersionConflict),
)
async def update_client(
    client_id: uuid.UUID,
    body: ClientUpdate,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> ClientRead:
    """Edit a client's details. `stage` cannot be written: it follows their sessions."""
    client, _ = await service.get_client(db, principal, client_id, now)
    check_version(if_match, client.version)
    client = await service.update_client(db, client, body, now)
    return await _read(db, principal, client, now, response)


async def _transition(
    action: Callable[[AsyncSession, Client, datetime], Awaitable[Client]],
    client_id: uuid.UUID,
    principal: Principal,
    db: AsyncSession,
    now: datetime,
    response: Response,
    if_match: str | None,
) -> ClientRead:
    client, _ = await service.get_client(db, principal, client_id, now)
    check_version(if_match, client.version)
    client = await action(db, client, now)
    return await _read(db, principal, client, now, response)


@router.post(
    "/{client_id}/archive",
    response_model=ClientRead,
    responses=responses_for(Forbidden, NotFound, Conflict, VersionConflict),
)
async def archive_client(
    client_id: uuid.UUID,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> ClientRead:
    """Archive a client (nothing may still be scheduled). Clients are never deleted."""
    return await _transition(
        service.archive_client, client_id, principal, db, now, response, if_match
    )


@router.post(
    "/{client_id}/unarchive",
    response_model=ClientRead,
    responses=responses_for(Forbidden, NotFound, Conflict, VersionConflict),
)
async def unarchive_client(
    client_id: uuid.UUID,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> ClientRead:
    """Bring an archived client back."""
    return await _transition(
        service.unarchive_client, client_id, principal, db, now, response, if_match
    )
