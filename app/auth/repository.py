"""SQL for API keys and for the sign-in lookups of both credentials (API key and OIDC token)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.clinics.models import Clinic
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, in_clinic
from app.staff.models import Staff


@dataclass(frozen=True)
class KeyHolder:
    key: ApiKey
    staff: Staff
    clinic: Clinic


# Built once, the prefix bound at execution: every request sends it, and building it (and its
# cache key, which SQLAlchemy memoizes per statement object) cost more than running it.
_KEY_BY_PREFIX = (
    select(ApiKey, Staff, Clinic)
    .join(Staff, Staff.id == ApiKey.staff_id)
    .join(Clinic, Clinic.id == ApiKey.clinic_id)
    .where(ApiKey.prefix == bindparam("prefix"))
)


async def key_by_prefix(db: AsyncSession, prefix: str) -> KeyHolder | None:
    """The key with this prefix, its staff member and their clinic (one query)."""
    row = (await db.execute(_KEY_BY_PREFIX, {"prefix": prefix})).first()
    return None if row is None else KeyHolder(*row)


async def record_key_use(
    db: AsyncSession, key_id: uuid.UUID, now: datetime, stale_before: datetime
) -> None:
    """Set `last_used_at`, unless another request did since `stale_before`."""
    stale = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= stale_before)
    stmt = (
        update(ApiKey)
        .where(ApiKey.id == key_id, stale)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    await db.execute(stmt)


async def get(db: AsyncSession, clinic_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    stmt = clinic_scoped(ApiKey, clinic_id).where(ApiKey.id == key_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def list_page(db: AsyncSession, clinic_id: uuid.UUID, page: PageParams) -> Sequence[ApiKey]:
    """One page of the clinic's keys, oldest first."""
    stmt = keyset(clinic_scoped(ApiKey, clinic_id), [ApiKey.created_at, ApiKey.id], page)
    return (await db.execute(stmt)).scalars().all()


async def active_staff_by_email(
    db: AsyncSession, clinic_id: uuid.UUID, email: str
) -> tuple[Staff, Clinic] | None:
    """The clinic's active staff member with this email, and the clinic; (clinic_id, email) is
    unique. Only that clinic's rows are read."""
    stmt = (
        select(Staff, Clinic)
        .join(Clinic, Clinic.id == Staff.clinic_id)
        .where(in_clinic(Staff, clinic_id))
        .where(Staff.email == email, Staff.active.is_(True))
    )
    row = (await db.execute(stmt)).first()
    return None if row is None else (row.Staff, row.Clinic)


async def clinic_ids(db: AsyncSession, limit: int) -> Sequence[uuid.UUID]:
    """Up to `limit` clinic ids: reading ids only, to tell whether there is just one clinic."""
    return (await db.execute(select(Clinic.id).limit(limit))).scalars().all()
