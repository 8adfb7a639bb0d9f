"""SQL for assessments: one client's administrations, one, paged or whole."""

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped


async def get(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID, assessment_id: uuid.UUID
) -> Assessment | None:
    stmt = clinic_scoped(Assessment, clinic_id).where(
        Assessment.client_id == client_id, Assessment.id == assessment_id
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def list_page(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    client_id: uuid.UUID,
    page: PageParams,
    instrument: str | None,
) -> Sequence[Assessment]:
    """One page of the client's assessments, oldest first."""
    stmt = clinic_scoped(Assessment, clinic_id).where(Assessment.client_id == client_id)
    if instrument is not None:
        stmt = stmt.where(Assessment.instrument == instrument)
    stmt = keyset(stmt, [Assessment.administered_at, Assessment.id], page)
    return (await db.execute(stmt)).scalars().all()


async def for_client(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    client_id: uuid.UUID,
    instruments: Collection[str] | None = None,
) -> Sequence[Assessment]:
    """Every assessment of the client (of these instruments, if given), oldest first."""
    stmt = clinic_scoped(Assessment, clinic_id).where(Assessment.client_id == client_id)
    if instruments is not None:
        stmt = stmt.where(Assessment.instrument.in_(instruments))
    stmt = stmt.order_by(Assessment.administered_at, Assessment.id)
    return (await db.execute(stmt)).scalars().all()
