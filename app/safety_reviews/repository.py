"""SQL for safety reviews: one, a page of the clinic's, and a client's open ones."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped
from app.safety_reviews.models import ReviewStatus, SafetyReview


async def get(db: AsyncSession, clinic_id: uuid.UUID, review_id: uuid.UUID) -> SafetyReview | None:
    stmt = clinic_scoped(SafetyReview, clinic_id).where(SafetyReview.id == review_id)
    return (await db.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class ReviewFilters:
    status: str | None = None
    client_id: uuid.UUID | None = None


async def list_page(
    db: AsyncSession, clinic_id: uuid.UUID, filters: ReviewFilters, page: PageParams
) -> Sequence[SafetyReview]:
    """One page of the clinic's reviews: open ones first, each group oldest-opened first."""
    r = SafetyReview
    stmt = clinic_scoped(r, clinic_id)
    if filters.status is not None:
        stmt = stmt.where(r.status == filters.status)
    if filters.client_id is not None:
        stmt = stmt.where(r.client_id == filters.client_id)
    stmt = keyset(stmt, [r.status, r.opened_at, r.id], page)
    return (await db.execute(stmt)).scalars().all()


@dataclass(frozen=True)
class OpenReview:
    """An open review with what the journey alert shows of its assessment."""

    review: SafetyReview
    session_id: uuid.UUID | None
    administered_at: datetime


async def open_for_client(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> list[OpenReview]:
    """The client's open reviews, oldest first, each with its assessment's session and time."""
    r, a = SafetyReview, Assessment
    stmt = (
        clinic_scoped(r, clinic_id)
        .add_columns(a.session_id, a.administered_at)
        .join(a, (a.id == r.assessment_id) & (a.clinic_id == r.clinic_id))
        .where(r.client_id == client_id, r.status == ReviewStatus.open.value)
        .order_by(r.opened_at, r.id)
    )
    rows = (await db.execute(stmt)).all()
    return [OpenReview(review, session_id, at) for review, session_id, at in rows]
