"""SQL for the integration worklist: both lists are filtered and ordered in the database."""

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    bindparam,
    case,
    false,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.clients.models import Client
from app.db import in_clinic, to_epoch_us
from app.sessions.enums import Route, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.sessions.repository import read_sessions
from app.windows import sql as window_sql
from app.windows.policy import WindowPolicy
from app.windows.rules import IntegrationStatus, WindowStatus

# Made once: aliasing copies every column of the table (see app/windows/sql.py).
_ANCHOR = aliased(ClinicalSession)


def _not_archived() -> ColumnElement[bool]:
    # The client's flag read per session kept, not a join: the planner cannot foresee how few
    # rows the window rule keeps, and at 10k sessions it chose to compare every kept dose with
    # every client of the clinic (a nested loop with a join filter, 140,000 comparisons). A
    # correlated lookup by primary key instead.
    archived = select(Client.archived).where(Client.id == ClinicalSession.client_id)
    return archived.scalar_subquery().is_(False)


def _by_clinician(stmt: Select[ClinicalSession], by_clinician: bool) -> Select[ClinicalSession]:
    if by_clinician:
        stmt = stmt.where(ClinicalSession.clinician_id == bindparam("clinician_id"))
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
    stmt = _unbooked(_policy_key(policy), clinician_id is not None)
    parameters = {
        "clinic_id": clinic_id,
        "open_since": now - window_sql.longest_window(policy),
        "now_us": to_epoch_us(now),
        "limit": limit,
    }
    if clinician_id is not None:
        parameters["clinician_id"] = clinician_id
    return await read_sessions(db, stmt, parameters)


async def outside_window_sessions(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    clinician_id: uuid.UUID | None,
    limit: int,
) -> Sequence[ClinicalSession]:
    """Scheduled integration sessions that fall before, after or without a window."""
    stmt = _outside_window(_policy_key(policy), clinician_id is not None)
    parameters: dict[str, object] = {"clinic_id": clinic_id, "limit": limit}
    if clinician_id is not None:
        parameters["clinician_id"] = clinician_id
    return await read_sessions(db, stmt, parameters)


# Both statements are built once per clinic policy (and with or without a clinician), every
# value bound at execution: building the window rule's expressions and their cache keys cost
# more CPU than PostgreSQL spent running them (docs/performance.md).
PolicyKey = tuple[int, tuple[tuple[Route, int], ...], int]


def _policy_key(policy: WindowPolicy) -> PolicyKey:
    return policy.opens_after_s, tuple(sorted(policy.closes_after_s.items())), policy.closing_soon_s


def _policy(key: PolicyKey) -> WindowPolicy:
    return WindowPolicy(key[0], dict(key[1]), key[2])


@functools.lru_cache(maxsize=256)
def _unbooked(key: PolicyKey, by_clinician: bool) -> Select[ClinicalSession]:
    s, policy = ClinicalSession, _policy(key)
    _, closes = window_sql.window_bounds_us(s, policy)
    now_us = bindparam("now_us", type_=BigInteger())
    status = window_sql.dose_integration_status(s, policy, now_us)
    stmt = select(s).where(
        in_clinic(s, bindparam("clinic_id")),
        s.kind == SessionKind.ketamine,
        # window_may_still_be_open, with now - the longest window bound at execution
        window_sql.anchor_time(s) >= bindparam("open_since", type_=DateTime(timezone=True)),
        # The flag only for the doses the rule keeps (about one in five): as two filters, the
        # planner ran the cheaper lookup first, for every candidate dose (docs/performance.md).
        case((status == IntegrationStatus.unbooked.value, _not_archived()), else_=false()),
    )
    stmt = _by_clinician(stmt, by_clinician)
    return stmt.order_by(closes, s.id).limit(bindparam("limit", type_=Integer()))


@functools.lru_cache(maxsize=256)
def _outside_window(key: PolicyKey, by_clinician: bool) -> Select[ClinicalSession]:
    s, anchor = ClinicalSession, _ANCHOR
    status = window_sql.integration_window_status(s, anchor, _policy(key))
    stmt = (
        select(s)
        .where(in_clinic(s, bindparam("clinic_id")))
        .outerjoin(anchor, anchor.id == window_sql.anchor_id(s))
        .where(
            s.kind == SessionKind.integration,
            s.status == SessionStatus.scheduled,
            status != WindowStatus.in_window.value,
            # Here as its own filter, on the sessions scanned: with it, the planner reads the
            # scheduled sessions in starts_at order and stops at the limit.
            _not_archived(),
        )
    )
    stmt = _by_clinician(stmt, by_clinician)
    return stmt.order_by(s.starts_at, s.id).limit(bindparam("limit", type_=Integer()))
