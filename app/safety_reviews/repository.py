"""SQL for safety reviews: one, a page of the clinic's, and a client's open ones."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, in_clinic
from app.db_direct import read_rows
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

    id: uuid.UUID
    assessment_id: uuid.UUID
    session_id: uuid.UUID | None
    administered_at: datetime


async def open_for_client(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> list[OpenReview]:
    """The client's open reviews, oldest first, each with its assessment's session and time."""
    parameters = {"clinic_id": clinic_id, "client_id": client_id}
    rows = await read_rows(db, _OPEN_FOR_CLIENT, parameters)
    return [
        OpenReview(row.id, row.assessment_id, row.session_id, row.administered_at) for row in rows
    ]


# Built once, bound at execution: every clinical journey sends it (the review's columns are
# all read, as the SQL the benchmark's ceiling sends says).
_OPEN_FOR_CLIENT = (
    select(SafetyReview)
    .where(in_clinic(SafetyReview, bindparam("clinic_id")))
    .add_columns(Assessment.session_id, Assessment.administered_at)
    .join(
        Assessment,
        (Assessment.id == SafetyReview.assessment_id)
        & (Assessment.clinic_id == SafetyReview.clinic_id),
    )
    .where(
        SafetyReview.client_id == bindparam("client_id"),
        SafetyReview.status == ReviewStatus.open.value,
    )
    .order_by(SafetyReview.opened_at, SafetyReview.id)
)
