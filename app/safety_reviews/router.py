"""/api/v1/safety-reviews (clinical roles only: schedulers get 403)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import Clinical
from app.clock import Now
from app.common.http import IfMatch, check_version, set_etag
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
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
from app.safety_reviews import service
from app.safety_reviews.models import ReviewStatus
from app.safety_reviews.read_models import to_read
from app.safety_reviews.repository import ReviewFilters
from app.safety_reviews.schemas import ResolveBody, SafetyReviewRead
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/safety-reviews",
    tags=["safety-reviews"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden),
)


@router.get("", response_model=Page[SafetyReviewRead])
async def list_safety_reviews(
    principal: Clinical,
    db: DbSession,
    page: Pagination,
    status: Annotated[ReviewStatus | None, Query(description="e.g. open")] = None,
    client_id: Annotated[uuid.UUID | None, Query(description="Only this client's.")] = None,
) -> Page[SafetyReviewRead]:
    """Safety reviews of positive PHQ-9 item 9 answers: open ones first, each group in the
    order they were opened (oldest first), so the longest-waiting review leads."""
    filters = ReviewFilters(status.value if status else None, client_id)
    rows = await service.list_reviews(db, principal, filters, page)
    items, cursor = split_page(rows, page, lambda r: (r.status, r.opened_at, r.id))
    return Page[SafetyReviewRead](items=[to_read(r) for r in items], next_cursor=cursor)


@router.get("/{review_id}", response_model=SafetyReviewRead, responses=responses_for(NotFound))
async def get_safety_review(
    review_id: uuid.UUID, principal: Clinical, db: DbSession, response: Response
) -> SafetyReviewRead:
    """One safety review."""
    review = await service.get_review(db, principal, review_id)
    set_etag(response, review.version)
    return to_read(review)


@router.post(
    "/{review_id}/resolve",
    response_model=SafetyReviewRead,
    responses=responses_for(NotFound, ValidationFailed, InvalidTransition, VersionConflict),
)
async def resolve_safety_review(
    review_id: uuid.UUID,
    body: ResolveBody,
    principal: Clinical,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> SafetyReviewRead:
    """Record what was done about a positive item 9 and close the review; the client's
    `self_harm_item_positive` alert for it goes with it. A resolved review is 409."""
    review = await service.get_review(db, principal, review_id)
    check_version(if_match, review.version)
    review = await service.resolve(db, principal, review, body, now)
    set_etag(response, review.version)
    return to_read(review)
