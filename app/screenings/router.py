"""/api/v1/clients/{client_id}/screenings (clinical roles only: schedulers get 403)."""

import uuid

from fastapi import APIRouter, Response

from app.auth.dependencies import Clinical
from app.auth.prescribers import PrescriberRequired
from app.clock import Now
from app.common.http import set_etag
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
from app.db import DbSession
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed, responses_for
from app.idempotency.dependencies import body_rule, idempotent, replay_responses
from app.screenings import service
from app.screenings.read_models import to_read
from app.screenings.schemas import ScreeningCreate, ScreeningRead
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/clients/{client_id}/screenings",
    tags=["screenings"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden, NotFound),
)


@router.post(
    "",
    status_code=201,
    response_model=ScreeningRead,
    dependencies=[
        idempotent(Clinical, authorize=body_rule(ScreeningCreate, service.check_decider))
    ],
    responses=replay_responses(
        responses_for(PrescriberRequired, ValidationFailed, service.OverrideReasonRequired)
    ),
)
async def create_screening(
    client_id: uuid.UUID,
    body: ScreeningCreate,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
) -> ScreeningRead:
    """Record a medical screening: all eleven contraindications, and `pending` or a
    prescriber's decision (`cleared` despite a contraindication needs `override_reason`).
    Screenings are never changed: a new decision is a new screening."""
    client = await service.client_of_clinic(db, principal, client_id)
    screening = await service.record(db, principal, client, body, now)
    response.headers["Location"] = f"/api/v1/clients/{client.id}/screenings/{screening.id}"
    set_etag(response, screening.version)
    return to_read(screening)


@router.get("", response_model=Page[ScreeningRead])
async def list_screenings(
    client_id: uuid.UUID, principal: Clinical, db: DbSession, page: Pagination
) -> Page[ScreeningRead]:
    """The client's screenings, newest first (by `screened_at`, then when recorded)."""
    client = await service.client_of_clinic(db, principal, client_id)
    rows = await service.list_page(db, principal, client, page)
    items, cursor = split_page(rows, page, lambda s: (s.screened_at, s.created_at, s.id))
    return Page[ScreeningRead](items=[to_read(s) for s in items], next_cursor=cursor)


@router.get("/{screening_id}", response_model=ScreeningRead)
async def get_screening(
    client_id: uuid.UUID,
    screening_id: uuid.UUID,
    principal: Clinical,
    db: DbSession,
    response: Response,
) -> ScreeningRead:
    """One screening of the client."""
    client = await service.client_of_clinic(db, principal, client_id)
    screening = await service.get_one(db, principal, client, screening_id)
    set_etag(response, screening.version)
    return to_read(screening)
