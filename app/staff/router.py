"""/api/v1/staff (admin)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import Admin
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
from app.staff import repository, service
from app.staff.models import Role
from app.staff.schemas import StaffCreate, StaffRead, StaffUpdate
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/staff",
    tags=["staff"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden),
)


@router.post(
    "",
    status_code=201,
    response_model=StaffRead,
    dependencies=[idempotent(Admin)],
    responses=replay_responses(responses_for(Conflict, ValidationFailed)),
)
async def create_staff(
    body: StaffCreate, principal: Admin, db: DbSession, response: Response
) -> StaffRead:
    """Add a staff member to your clinic (admin)."""
    staff = await service.create_staff(db, principal.clinic_id, body)
    response.headers["Location"] = f"/api/v1/staff/{staff.id}"
    set_etag(response, staff.version)
    return StaffRead.model_validate(staff)


@router.get("", response_model=Page[StaffRead])
async def list_staff(
    principal: Admin,
    db: DbSession,
    page: Pagination,
    role: Annotated[Role | None, Query(description="Only this role.")] = None,
    active: Annotated[bool | None, Query(description="Only active or inactive members.")] = None,
    prescriber: Annotated[
        bool | None, Query(description="Only prescribers, or only staff who are not.")
    ] = None,
) -> Page[StaffRead]:
    """Your clinic's staff, ordered by email (admin)."""
    rows = await repository.list_page(
        db, principal.clinic_id, page, role=role, active=active, prescriber=prescriber
    )
    items, cursor = split_page(rows, page, lambda s: (s.email, s.id))
    return Page[StaffRead](items=[StaffRead.model_validate(s) for s in items], next_cursor=cursor)


@router.get("/{staff_id}", response_model=StaffRead, responses=responses_for(NotFound))
async def get_staff(
    staff_id: uuid.UUID, principal: Admin, db: DbSession, response: Response
) -> StaffRead:
    """One staff member (admin)."""
    staff = await service.get_staff(db, principal.clinic_id, staff_id)
    set_etag(response, staff.version)
    return StaffRead.model_validate(staff)


@router.patch(
    "/{staff_id}",
    response_model=StaffRead,
    responses=responses_for(NotFound, Conflict, ValidationFailed, VersionConflict),
)
async def update_staff(
    staff_id: uuid.UUID,
    body: StaffUpdate,
    principal: Admin,
    db: DbSession,
    response: Response,
    if_match: IfMatch = None,
) -> StaffRead:
    """Rename, change the role or prescriber flag of, or deactivate a staff member (admin)."""
    staff = await service.get_staff(db, principal.clinic_id, staff_id)
    check_version(if_match, staff.version)
    staff = await service.update_staff(db, staff, body)
    set_etag(response, staff.version)
    return StaffRead.model_validate(staff)
