"""SQL for calendar feed tokens and the feed's sessions."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendar.models import CalendarFeedToken
from app.clients.models import Client
from app.clinics.models import Clinic
from app.db import clinic_scoped, in_clinic
from app.sessions.models import ClinicalSession
from app.staff.models import Staff


async def staff_for_update(
    db: AsyncSession, clinic_id: uuid.UUID, staff_id: uuid.UUID
) -> Staff | None:
    """The staff member, row-locked so two token issues for them cannot interleave."""
    stmt = clinic_scoped(Staff, clinic_id).where(Staff.id == staff_id).with_for_update()
    return (await db.execute(stmt)).scalar_one_or_none()


async def live_tokens(db: AsyncSession, staff: Staff) -> Sequence[CalendarFeedToken]:
    stmt = clinic_scoped(CalendarFeedToken, staff.clinic_id).where(
        CalendarFeedToken.staff_id == staff.id, CalendarFeedToken.revoked_at.is_(None)
    )
    return (await db.execute(stmt)).scalars().all()


@dataclass(frozen=True)
class TokenHolder:
    token: CalendarFeedToken
    staff: Staff
    clinic: Clinic


async def token_by_prefix(db: AsyncSession, prefix: str) -> TokenHolder | None:
    """The token with this prefix, its staff member and their clinic (one query)."""
    stmt = (
        select(CalendarFeedToken, Staff, Clinic)
        .join(
            Staff,
            (Staff.id == CalendarFeedToken.staff_id)
            & (Staff.clinic_id == CalendarFeedToken.clinic_id),
        )
        .join(Clinic, Clinic.id == CalendarFeedToken.clinic_id)
        .where(CalendarFeedToken.prefix == prefix)
    )
    row = (await db.execute(stmt)).first()
    return None if row is None else TokenHolder(*row)


async def record_token_use(
    db: AsyncSession, token_id: uuid.UUID, now: datetime, stale_before: datetime
) -> None:
    """Set `last_used_at`, unless another request did since `stale_before`."""
    stale = or_(
        CalendarFeedToken.last_used_at.is_(None), CalendarFeedToken.last_used_at <= stale_before
    )
    stmt = (
        update(CalendarFeedToken)
        .where(CalendarFeedToken.id == token_id, stale)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    await db.execute(stmt)


FeedRow = Row[ClinicalSession, str, str]


async def feed_sessions(
    db: AsyncSession, staff: Staff, since: datetime, until: datetime
) -> Sequence[FeedRow]:
    """The staff member's sessions starting in [since, until), each with its client's names."""
    s = ClinicalSession
    stmt = (
        clinic_scoped(s, staff.clinic_id)
        .add_columns(Client.first_name, Client.last_name)
        .join(Client, Client.id == s.client_id)
        .where(
            in_clinic(Client, staff.clinic_id),
            s.clinician_id == staff.id,
            s.starts_at >= since,
            s.starts_at < until,
        )
        .order_by(s.starts_at, s.id)
    )
    return (await db.execute(stmt)).all()
