"""/api/v1/api-keys (admin)."""

import uuid

from fastapi import APIRouter, Response

from app.auth import service
from app.auth.dependencies import Admin
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.clock import Now
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
from app.db import DbSession
from app.errors import (
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
    invalid_reference,
    responses_for,
)
from app.idempotency.dependencies import idempotent, replay_responses
from app.staff import repository as staff_repository
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/api-keys",
    tags=["api-keys"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden),
)


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    dependencies=[idempotent(Admin, holds_secret=True)],
    responses=replay_responses(responses_for(ValidationFailed), holds_secret=True),
)
async def create_api_key(
    body: ApiKeyCreate, principal: Admin, db: DbSession, now: Now, response: Response
) -> ApiKeyCreated:
    """Issue an API key for a staff member (admin). The key is in this response only."""
    staff = await staff_repository.get(db, principal.clinic_id, body.staff_id)
    if staff is None:
        raise invalid_reference("staff_id", "a staff member")
    key, plaintext = await service.issue_key(db, staff, body.name, now, body.expires_at)
    response.headers["Location"] = f"/api/v1/api-keys/{key.id}"
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(key).model_dump(), "key": plaintext}
    )


@router.get("", response_model=Page[ApiKeyRead])
async def list_api_keys(principal: Admin, db: DbSession, page: Pagination) -> Page[ApiKeyRead]:
    """Your clinic's API keys, without the keys themselves (admin)."""
    rows = await service.list_keys(db, principal.clinic_id, page)
    items, cursor = split_page(rows, page, lambda k: (k.created_at, k.id))
    return Page[ApiKeyRead](items=[ApiKeyRead.model_validate(k) for k in items], next_cursor=cursor)


@router.delete("/{key_id}", status_code=204, responses=responses_for(NotFound))
async def revoke_api_key(key_id: uuid.UUID, principal: Admin, db: DbSession, now: Now) -> None:
    """Revoke an API key (admin); requests with it get 401 from now on."""
    await service.revoke_key(db, principal.clinic_id, key_id, now)
