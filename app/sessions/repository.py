"""SQL for sessions: lookups, the overlap check, and filtered keyset pages."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.clients.models import Client
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, in_clinic, to_epoch_us
from app.db_direct import read_tuples
from app.sessions.dosing.policy import DosingPolicy
from app.sessions.dosing.rules import SafetyFlag
from app.sessions.dosing.sql import flag_condition
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.models import ClinicalSession, SessionCorrection
from app.windows import sql as window_sql
from app.windows.policy import WindowPolicy
from app.windows.rules import IntegrationStatus, WindowStatus

# Made once: aliasing copies every column of the table (see app/windows/sql.py).
_ANCHOR = aliased(ClinicalSession)
_ANCHOR_ROW = aliased(ClinicalSession)
# On PostgreSQL the anchoring dose is found per row by a LATERAL primary-key lookup (LIMIT 1 keeps
# the planner from flattening it): as a plain join on `id = anchor_id(...)` it chose to hash the
# whole sessions table once a clinic had some 20k integration sessions (bench/scale). SQLite has
# no LATERAL, and its nested-loop planner needs none.
_LATERAL_ANCHOR = aliased(
    ClinicalSession,
    select(_ANCHOR_ROW)
    .where(_ANCHOR_ROW.id == window_sql.anchor_id(ClinicalSession))
    .limit(1)
    .correlate(ClinicalSession)
    .lateral(),
)


async def get(
    db: AsyncSession, clinic_id: uuid.UUID, session_id: uuid.UUID, kind: SessionKind | None = None
) -> ClinicalSession | None:
    stmt = clinic_scoped(ClinicalSession, clinic_id).where(ClinicalSession.id == session_id)
    if kind is not None:
        stmt = stmt.where(ClinicalSession.kind == kind)
    return (await db.execute(stmt)).scalar_one_or_none()


async def lock_client(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> Client | None:
    """Load the client FOR UPDATE: scheduling for one client is serialised, so two concurrent
    bookings cannot both pass the overlap check (SQLite serialises writers anyway)."""
    stmt = clinic_scoped(Client, clinic_id).where(Client.id == client_id).with_for_update()
    return (await db.execute(stmt)).scalar_one_or_none()


async def find_overlap(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    client_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    excluding: uuid.UUID | None = None,
) -> ClinicalSession | None:
    """A non-cancelled session of the client overlapping [starts_at, ends_at), if any."""
    s = ClinicalSession
    stmt = clinic_scoped(s, clinic_id).where(
        s.client_id == client_id,
        s.status != SessionStatus.cancelled,
        s.starts_at < ends_at,
        s.ends_at > starts_at,
    )
    if excluding is not None:
        stmt = stmt.where(s.id != excluding)
    return (await db.execute(stmt.order_by(s.starts_at).limit(1))).scalar_one_or_none()


async def has_preparation_before(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    client_id: uuid.UUID,
    before: datetime,
    statuses: Sequence[SessionStatus],
) -> bool:
    s = ClinicalSession
    stmt = clinic_scoped(s, clinic_id).where(
        s.client_id == client_id,
        s.kind == SessionKind.preparation,
        s.status.in_(statuses),
        s.starts_at < before,
    )
    return (await db.execute(stmt.limit(1))).first() is not None


@dataclass(frozen=True)
class SessionFilters:
    client_id: uuid.UUID | None = None
    clinician_id: uuid.UUID | None = None
    status: SessionStatus | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None
    integration_status: IntegrationStatus | None = None
    window_status: WindowStatus | None = None
    safety_flag: SafetyFlag | None = None


@dataclass(frozen=True)
class Policies:
    """The clinic's window and dosing policies, which some filters are evaluated under."""

    window: WindowPolicy
    dosing: DosingPolicy


def _filtered(
    clinic_id: uuid.UUID,
    kind: SessionKind,
    f: SessionFilters,
    policies: Policies,
    now: datetime,
    lateral: bool = False,
) -> Select[ClinicalSession]:
    policy = policies.window
    s = ClinicalSession
    stmt = clinic_scoped(s, clinic_id).where(s.kind == kind)
    if f.client_id is not None:
        stmt = stmt.where(s.client_id == f.client_id)
    if f.clinician_id is not None:
        stmt = stmt.where(s.clinician_id == f.clinician_id)
    if f.status is not None:
        stmt = stmt.where(s.status == f.status)
    if f.starts_after is not None:
        stmt = stmt.where(s.starts_at >= f.starts_after)
    if f.starts_before is not None:
        stmt = stmt.where(s.starts_at < f.starts_before)
    if f.integration_status is not None:
        status = window_sql.dose_integration_status(s, policy, to_epoch_us(now))
        stmt = stmt.where(status == f.integration_status.value)
        if f.integration_status is IntegrationStatus.unbooked:
            stmt = stmt.where(window_sql.window_may_still_be_open(s, policy, now))
    if f.window_status is not None:
        if lateral:
            anchor, stmt = _LATERAL_ANCHOR, stmt.outerjoin(_LATERAL_ANCHOR, true())
        else:
            anchor = _ANCHOR
            stmt = stmt.outerjoin(anchor, anchor.id == window_sql.anchor_id(s))
        stmt = stmt.where(
            window_sql.integration_window_status(s, anchor, policy) == f.window_status.value
        )
    if f.safety_flag is not None:
        stmt = stmt.where(flag_condition(s, f.safety_flag, policies.dosing, now))
    return stmt


async def list_page(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    kind: SessionKind,
    filters: SessionFilters,
    page: PageParams,
    policies: Policies,
    now: datetime,
) -> Sequence[ClinicalSession]:
    """One page of a kind's sessions by (starts_at, id); every filter runs in SQL."""
    lateral = db.get_bind().dialect.name == "postgresql"
    stmt = _filtered(clinic_id, kind, filters, policies, now, lateral)
    stmt = keyset(stmt, [ClinicalSession.starts_at, ClinicalSession.id], page)
    return (await db.execute(stmt)).scalars().all()


class SessionRecord:
    """A session as read: each column a plain attribute, under the model's attribute name."""


def as_records(rows: Sequence[Sequence[Any]], names: Sequence[str]) -> Sequence[ClinicalSession]:
    """Rows of `select(ClinicalSession)` read without the ORM, typed as the entity they mirror;
    `names` are the statement's column names, in its order.

    Each record has every column under its attribute's name (the model maps no other names and
    defines no methods), so read-only code takes either. The journey and the worklist read
    their sessions this way: loading ORM entities and going through their instrumented
    attributes cost more than the rest of building the response, and so does a row's attribute
    lookup (ten times its index lookup), so each row becomes a record whose attributes are a
    plain dict (docs/performance.md). Never for a session that is changed: a record is not
    tracked, so nothing written to it is saved.
    """
    records = []
    for row in rows:
        record = SessionRecord()
        record.__dict__ = dict(zip(names, row, strict=True))
        records.append(record)
    return cast(Sequence[ClinicalSession], records)


async def read_sessions(
    db: AsyncSession, statement: Select[Any], parameters: Mapping[str, Any]
) -> Sequence[ClinicalSession]:
    """The sessions a `select(ClinicalSession)` statement finds, as records (`as_records`)."""
    names = statement.selected_columns.keys()
    return as_records(await read_tuples(db, statement, parameters), names)


async def for_client(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> Sequence[ClinicalSession]:
    """Every session of one client, in journey order, as read-only rows (`as_records`)."""
    parameters = {"clinic_id": clinic_id, "client_id": client_id}
    return await read_sessions(db, _FOR_CLIENT, parameters)


# Built once, bound at execution (a journey sends it on every request; see app/auth/repository).
_FOR_CLIENT = (
    select(ClinicalSession)
    .where(
        in_clinic(ClinicalSession, bindparam("clinic_id")),
        ClinicalSession.client_id == bindparam("client_id"),
    )
    .order_by(ClinicalSession.starts_at, ClinicalSession.id)
)


async def corrections(
    db: AsyncSession, clinic_id: uuid.UUID, session_id: uuid.UUID, page: PageParams
) -> Sequence[SessionCorrection]:
    """One page of a session's corrections, oldest first."""
    stmt = clinic_scoped(SessionCorrection, clinic_id).where(
        SessionCorrection.session_id == session_id
    )
    stmt = keyset(stmt, [SessionCorrection.corrected_at, SessionCorrection.id], page)
    return (await db.execute(stmt)).scalars().all()
