"""/api/v1/clients/{client_id}/assessment-requests (clinical roles only: schedulers get 403).

The client's side of a link, `/r/<token>`, is app/self_report/pages.py.
"""

import uuid

from fastapi import APIRouter, Request, Response

from app.assessments.service import client_of_clinic
from app.auth.dependencies import Clinical
from app.clock import Now
from app.common.http import IfMatch, check_version, set_etag
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
from app.common.urls import public_base
from app.db import DbSession
from app.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    Unauthorized,
    ValidationFailed,
    VersionConflict,
    responses_for,
)
from app.idempotency.dependencies import idempotent, replay_responses
from app.self_report import service
from app.self_report.read_models import to_read
from app.self_report.schemas import AssessmentRequestCreate, AssessmentRequestRead
from app.unit_of_work import UnitOfWorkRoute

LINK_PATH = "/r/"

router = APIRouter(
    prefix="/api/v1/clients/{client_id}/assessment-requests",
    tags=["assessment-requests"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden, NotFound),
)


@router.post(
    "",
    status_code=201,
    response_model=AssessmentRequestRead,
    dependencies=[idempotent(Clinical, holds_secret=True)],
    responses=replay_responses(responses_for(ValidationFailed), holds_secret=True),
)
async def create_assessment_request(
    client_id: uuid.UUID,
    body: AssessmentRequestCreate,
    principal: Clinical,
    db: DbSession,
    now: Now,
    request: Request,
    response: Response,
) -> AssessmentRequestRead:
    """Create a one-time link for the client to answer a PHQ-9, GAD-7 or PCL-5 on their own
    device: a plain HTML form, no login. Send them `url`; it is shown in this response only.
    Submitting the form records an assessment with `source: client_self_report`, scored like
    staff entry (a PHQ-9 with item 9 above 0 opens a safety review), and emits
    `assessment_request.completed`. The link works once, until `expires_at`, unless revoked."""
    client = await client_of_clinic(db, principal, client_id)
    link, token = await service.create(db, principal, client, body, now)
    response.headers["Location"] = f"/api/v1/clients/{client.id}/assessment-requests/{link.id}"
    set_etag(response, link.version)
    return to_read(link, now, url=f"{public_base(request)}{LINK_PATH}{token}")


@router.get("", response_model=Page[AssessmentRequestRead])
async def list_assessment_requests(
    client_id: uuid.UUID, principal: Clinical, db: DbSession, page: Pagination, now: Now
) -> Page[AssessmentRequestRead]:
    """The client's self-report links, oldest first, with their status as of now (no `url`:
    tokens are stored hashed)."""
    client = await client_of_clinic(db, principal, client_id)
    rows = await service.list_page(db, principal, client, page)
    items, cursor = split_page(rows, page, lambda r: (r.created_at, r.id))
    return Page[AssessmentRequestRead](items=[to_read(r, now) for r in items], next_cursor=cursor)


@router.get("/{request_id}", response_model=AssessmentRequestRead)
async def get_assessment_request(
    client_id: uuid.UUID,
    request_id: uuid.UUID,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
) -> AssessmentRequestRead:
    """One self-report link and its status as of now (no `url`)."""
    client = await client_of_clinic(db, principal, client_id)
    link = await service.get_one(db, principal, client, request_id)
    set_etag(response, link.version)
    return to_read(link, now)


@router.post(
    "/{request_id}/revoke",
    response_model=AssessmentRequestRead,
    responses=responses_for(InvalidTransition, VersionConflict),
)
async def revoke_assessment_request(
    client_id: uuid.UUID,
    request_id: uuid.UUID,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentRequestRead:
    """Stop a pending link: from now on it answers 410. Revoking a revoked link changes
    nothing; a completed or expired one is 409 `invalid_transition`."""
    client = await client_of_clinic(db, principal, client_id)
    link = await service.get_one(db, principal, client, request_id)
    check_version(if_match, link.version)
    link = await service.revoke(db, principal, link, now)
    set_etag(response, link.version)
    return to_read(link, now)
