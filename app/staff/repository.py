"""SQL for staff."""

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, in_clinic
from app.staff.models import Role, Staff


async def get(db: AsyncSession, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Staff | None:
    stmt = clinic_scoped(Staff, clinic_id).where(Staff.id == staff_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def names(
    db: AsyncSession, clinic_id: uuid.UUID, staff_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The names of these staff members of the clinic, by id."""
    stmt = select(Staff.id, Staff.name).where(in_clinic(Staff, clinic_id), Staff.id.in_(staff_ids))
    return {row.id: row.name for row in await db.execute(stmt)}


async def email_taken(
    db: AsyncSession, clinic_id: uuid.UUID, email: str, *, excluding: uuid.UUID | None = None
) -> bool:
    stmt = clinic_scoped(Staff, clinic_id).where(Staff.email == email)
    if excluding is not None:
        stmt = stmt.where(Staff.id != excluding)
    return (await db.execute(stmt.limit(1))).first() is not None


async def count_active_admins(db: AsyncSession, clinic_id: uuid.UUID) -> int:
    """Counted under row locks, so two admins cannot demote each other at the same time."""
    stmt = (
        select(Staff.id)
        .where(in_clinic(Staff, clinic_id), Staff.role == Role.admin, Staff.active.is_(True))
        .with_for_update()
    )
    return len((await db.execute(stmt)).all())


async def list_page(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    page: PageParams,
    *,
    role: Role | None,
    active: bool | None,
    prescriber: bool | None = None,
) -> Sequence[Staff]:
    stmt = clinic_scoped(Staff, clinic_id)
    if prescriber is not None:
        stmt = stmt.where(Staff.prescriber.is_(prescriber))
    if role is not None:
        stmt = stmt.where(Staff.role == role)
    if active is not None:
        stmt = stmt.where(Staff.active.is_(active))
    stmt = keyset(stmt, [Staff.email, Staff.id], page)
    return (await db.execute(stmt)).scalars().all()
