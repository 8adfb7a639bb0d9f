"""SQL for the integration worklist: both lists are filtered and ordered in the database."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.clients.models import Client
from app.db import clinic_scoped, to_epoch_us
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.windows import sql as window_sql
from app.windows.policy import WindowPolicy
from app.windows.rules import IntegrationStatus, WindowStatus

# Made once: aliasing copies every column of the table (see app/windows/sql.py).
_ANCHOR = aliased(ClinicalSession)


def _active_clients(
    stmt: Select[ClinicalSession], clinician_id: uuid.UUID | None
) -> Select[ClinicalSession]:
    stmt = stmt.join(Client, Client.id == ClinicalSession.client_id).where(
        Client.archived.is_(False)
    )
    if clinician_id is not None:
        stmt = stmt.where(ClinicalSession.clinician_id == clinician_id)
    return stmt


async def unbooked_doses(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    now: datetime,
    clinician_id: uuid.UUID | None,
    limit: int,
) -> Sequence[ClinicalSession]:
    """Doses whose window is still open (or not yet open) with nothing booked in it."""
    s = ClinicalSession
    _, closes = window_sql.window_bounds_us(s, policy)
    status = window_sql.dose_integration_status(s, policy, to_epoch_us(now))
    stmt = clinic_scoped(s, clinic_id).where(
        s.kind == SessionKind.ketamine,
        window_sql.window_may_still_be_open(s, policy, now),
        status == IntegrationStatus.unbooked.value,
    )
    stmt = _active_clients(stmt, clinician_id).order_by(closes, s.id).limit(limit)
    return (await db.execute(stmt)).scalars().all()


async def outside_window_sessions(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    clinician_id: uuid.UUID | None,
    limit: int,
) -> Sequence[ClinicalSession]:
    """Scheduled integration sessions that fall before, after or without a window."""
    s = ClinicalSession
    anchor = _ANCHOR
    status = window_sql.integration_window_status(s, anchor, policy)
    stmt = (
        clinic_scoped(s, clinic_id)
        .outerjoin(anchor, anchor.id == window_sql.anchor_id(s))
        .where(
            s.kind == SessionKind.integration,
            s.status == SessionStatus.scheduled,
            status != WindowStatus.in_window.value,
        )
    )
    stmt = _active_clients(stmt, clinician_id).order_by(s.starts_at, s.id).limit(limit)
    return (await db.execute(stmt)).scalars().all()
