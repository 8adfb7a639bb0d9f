"""SQL for API keys and for the sign-in lookups of both credentials (API key and OIDC token)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.clinics.models import Clinic
from app.clinics.snapshot import ClinicSnapshot
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, in_clinic
from app.db_direct import execute, read_rows
from app.staff.models import Role, Staff


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """What authenticating an API key reads: the key's checks, its staff member's role and
    standing, and their clinic."""

    key_id: uuid.UUID
    secret_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    staff_id: uuid.UUID
    role: Role
    active: bool
    prescriber: bool
    clinic: ClinicSnapshot


_keys, _staff, _clinics = ApiKey.__table__, Staff.__table__, Clinic.__table__
# Built once, the prefix bound at execution: every request sends it. Read as one row of columns,
# not three entities: the ORM cost more than the statement (docs/performance.md).
_KEY_BY_PREFIX = (
    select(
        _keys.c.id.label("key_id"),
        _keys.c.secret_hash,
        _keys.c.expires_at,
        _keys.c.revoked_at,
        _keys.c.last_used_at,
        _keys.c.staff_id,
        _staff.c.role,
        _staff.c.active,
        _staff.c.prescriber,
        # The clinic's columns in table order (ClinicSnapshot's), its id named for what it is.
        *(column.label("clinic_id") if column.name == "id" else column for column in _clinics.c),
    )
    .join(_staff, _staff.c.id == _keys.c.staff_id)
    .join(_clinics, _clinics.c.id == _keys.c.clinic_id)
    .where(_keys.c.prefix == bindparam("prefix"))
)
# The key's and staff member's columns come first, each named as KeyHolder's field it fills.
_HOLDER_FIELDS = tuple(str(c.key) for c in _KEY_BY_PREFIX.selected_columns)[
    : len(fields(KeyHolder)) - 1
]


async def key_by_prefix(db: AsyncSession, prefix: str) -> KeyHolder | None:
    """The key with this prefix, its staff member and their clinic (one query)."""
    rows = await read_rows(db, _KEY_BY_PREFIX, {"prefix": prefix})
    if not rows:
        return None
    row: tuple[Any, ...] = tuple(rows[0])
    holder = dict(zip(_HOLDER_FIELDS, row, strict=False))
    return KeyHolder(**holder, clinic=ClinicSnapshot(*row[len(_HOLDER_FIELDS) :]))


async def record_key_use(
    db: AsyncSession, key_id: uuid.UUID, now: datetime, stale_before: datetime
) -> None:
    """Set `last_used_at`, unless another request did since `stale_before`."""
    parameters = {"key_id": key_id, "now": now, "stale_before": stale_before}
    await execute(db, _RECORD_KEY_USE, parameters)


# Built once and sent as the reads are (app/db_direct.py): a direct answer's session has no ORM.
_RECORD_KEY_USE = (
    update(ApiKey)
    .where(
        ApiKey.id == bindparam("key_id"),
        or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= bindparam("stale_before")),
    )
    .values(last_used_at=bindparam("now"))
)


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
