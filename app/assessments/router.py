"""/api/v1/clients/{client_id}/assessments (clinical roles only: schedulers get 403)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.assessments import service
from app.assessments.read_models import to_read
from app.assessments.schemas import AssessmentCreate, AssessmentRead, Trajectories
from app.assessments.scoring import Instrument
from app.auth.dependencies import Clinical
from app.clock import Now
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
from app.db import DbSession
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed, responses_for
from app.idempotency.dependencies import idempotent, replay_responses
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/clients/{client_id}/assessments",
    tags=["assessments"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden, NotFound),
)


@router.post(
    "",
    status_code=201,
    response_model=AssessmentRead,
    dependencies=[idempotent(Clinical)],
    responses=replay_responses(responses_for(ValidationFailed)),
)
async def create_assessment(
    client_id: uuid.UUID,
    body: AssessmentCreate,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
) -> AssessmentRead:
    """Record a PHQ-9, GAD-7 or PCL-5 from its item scores; the total and band are computed.
    A PHQ-9 with item 9 above 0 opens a safety review (`/api/v1/safety-reviews`), whose journey
    alert stays until the review is resolved, and emits `assessment.self_harm_flag`."""
    client = await service.client_of_clinic(db, principal, client_id)
    assessment = await service.record(db, principal, client, body, now)
    response.headers["Location"] = f"/api/v1/clients/{client.id}/assessments/{assessment.id}"
    return to_read(assessment)


@router.get("", response_model=Page[AssessmentRead])
async def list_assessments(
    client_id: uuid.UUID,
    principal: Clinical,
    db: DbSession,
    page: Pagination,
    instrument: Annotated[Instrument | None, Query()] = None,
) -> Page[AssessmentRead]:
    """The client's assessments, oldest first."""
    client = await service.client_of_clinic(db, principal, client_id)
    rows = await service.list_page(db, principal, client, page, instrument)
    items, cursor = split_page(rows, page, lambda a: (a.administered_at, a.id))
    return Page[AssessmentRead](items=[to_read(a) for a in items], next_cursor=cursor)


@router.get("/trajectory", response_model=Trajectories)
async def get_assessment_trajectory(
    client_id: uuid.UUID, principal: Clinical, db: DbSession, now: Now
) -> Trajectories:
    """Per instrument: baseline, latest, change from baseline and every point; for the PHQ-9
    also the CMS159 / NQF 0710 remission and NQF 1885 response at twelve months, as of now."""
    client = await service.client_of_clinic(db, principal, client_id)
    return await service.trajectories(db, principal, client, now)


@router.get("/{assessment_id}", response_model=AssessmentRead)
async def get_assessment(
    client_id: uuid.UUID, assessment_id: uuid.UUID, principal: Clinical, db: DbSession
) -> AssessmentRead:
    """One assessment of the client, with its total and band."""
    client = await service.client_of_clinic(db, principal, client_id)
    return to_read(await service.get_one(db, principal, client, assessment_id))
