"""Every SQL statement of the FHIR API: searches filtered, counted and paged in the database.

Filters come in already resolved (ids as UUIDs, FHIR codes as stored values), each parameter as
an AND of OR-sets (a repeated parameter ANDs, a comma ORs). An empty OR-set matches nothing.
"""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment
from app.clients.models import Client
from app.common.pagination import PageParams, decode_cursor, keyset
from app.consents import sql as consent_sql
from app.consents.models import Consent
from app.consents.rules import ConsentStatus
from app.db import clinic_scoped
from app.errors import InvalidCursor
from app.fhir.search import DateRange
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.staff.models import Staff

AndOr = list[set[Any]]


@dataclass
class PatientFilter:
    ids: AndOr = field(default_factory=list)
    names: list[list[str]] = field(default_factory=list)
    families: list[list[str]] = field(default_factory=list)
    givens: list[list[str]] = field(default_factory=list)
    birthdates: list[DateRange] = field(default_factory=list)


@dataclass
class SessionFilter:
    encounters: bool  # Encounters are the completed sessions, dated by their period
    ids: AndOr = field(default_factory=list)
    clients: AndOr = field(default_factory=list)
    statuses: AndOr = field(default_factory=list)
    dates: list[DateRange] = field(default_factory=list)


@dataclass
class ConsentFilter:
    now: datetime
    clients: AndOr = field(default_factory=list)
    statuses: list[set[str]] = field(default_factory=list)  # FHIR `active` / `inactive`


@dataclass
class ScoreFilter:
    instruments: Collection[str]
    clients: AndOr = field(default_factory=list)
    dates: list[DateRange] = field(default_factory=list)


def _in(column: Any, and_or: AndOr) -> list[ColumnElement[bool]]:
    return [column.in_(ors) if ors else false() for ors in and_or]


def date_matches(
    wanted: DateRange, first: Any, last: Any, *, days: bool = False
) -> ColumnElement[bool]:
    """FHIR date comparison of a target [first, last] with the search range [start, end);
    `days` for a DATE column (birthDate), compared with the UTC days of the range."""
    start, end = wanted.days if days else (wanted.start, wanted.end)
    inside = and_(first >= start, last < end)
    chosen: ColumnElement[bool] = {
        "eq": inside,
        "ne": not_(inside),
        "lt": first < start,
        "gt": last >= end,
        "le": first < end,
        "ge": last >= start,
    }[wanted.prefix]
    return chosen


def _prefix(text: str) -> str:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _starts(columns: Sequence[Any], ors: list[str]) -> ColumnElement[bool]:
    return or_(
        *(func.lower(column).like(_prefix(part), escape="\\") for part in ors for column in columns)
    )


def _patients(clinic_id: uuid.UUID, wanted: PatientFilter) -> Select[Any]:
    stmt = clinic_scoped(Client, clinic_id).where(*_in(Client.id, wanted.ids))
    names = (Client.first_name, Client.last_name, Client.preferred_name)
    for ors in wanted.names:
        stmt = stmt.where(_starts(names, ors))
    for ors in wanted.families:
        stmt = stmt.where(_starts([Client.last_name], ors))
    for ors in wanted.givens:
        stmt = stmt.where(_starts([Client.first_name, Client.preferred_name], ors))
    for birth in wanted.birthdates:
        stmt = stmt.where(
            date_matches(birth, Client.date_of_birth, Client.date_of_birth, days=True)
        )
    return stmt


def _sessions(clinic_id: uuid.UUID, wanted: SessionFilter) -> Select[Any]:
    stmt = clinic_scoped(ClinicalSession, clinic_id).where(
        *_in(ClinicalSession.id, wanted.ids),
        *_in(ClinicalSession.client_id, wanted.clients),
        *_in(ClinicalSession.status, wanted.statuses),
    )
    first: Any = ClinicalSession.starts_at
    last: Any = ClinicalSession.starts_at
    if wanted.encounters:
        stmt = stmt.where(ClinicalSession.status == SessionStatus.completed)
        last = func.coalesce(ClinicalSession.ended_at, ClinicalSession.ends_at)
    for when in wanted.dates:
        stmt = stmt.where(date_matches(when, first, last))
    return stmt


def _consents(clinic_id: uuid.UUID, wanted: ConsentFilter) -> Select[Any]:
    stmt = clinic_scoped(Consent, clinic_id).where(*_in(Consent.client_id, wanted.clients))
    active = consent_sql.status_is(ConsentStatus.active, wanted.now)
    for ors in wanted.statuses:
        either = [active if code == "active" else not_(active) for code in ors]
        stmt = stmt.where(or_(*either) if either else false())
    return stmt


def _scores(clinic_id: uuid.UUID, wanted: ScoreFilter) -> Select[Any]:
    stmt = clinic_scoped(Assessment, clinic_id).where(
        Assessment.instrument.in_(wanted.instruments), *_in(Assessment.client_id, wanted.clients)
    )
    for when in wanted.dates:
        stmt = stmt.where(
            date_matches(when, Assessment.administered_at, Assessment.administered_at)
        )
    return stmt


async def _count(db: AsyncSession, stmt: Select[Any]) -> int:
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    return int((await db.execute(counted)).scalar_one())


async def _page(db: AsyncSession, stmt: Select[Any], order: Sequence[Any], page: PageParams) -> Any:
    return (await db.execute(keyset(stmt, order, page))).scalars().all()


PATIENT_ORDER = (Client.last_name, Client.first_name, Client.id)
SESSION_ORDER = (ClinicalSession.starts_at, ClinicalSession.id)
CONSENT_ORDER = (Consent.signed_at, Consent.id)


async def patient_page(
    db: AsyncSession, clinic_id: uuid.UUID, wanted: PatientFilter, page: PageParams
) -> Sequence[Client]:
    """A page of the clinic's clients by name (one more than asked, to tell a next page)."""
    return await _page(db, _patients(clinic_id, wanted), PATIENT_ORDER, page)  # type: ignore[no-any-return]


async def patient_count(db: AsyncSession, clinic_id: uuid.UUID, wanted: PatientFilter) -> int:
    return await _count(db, _patients(clinic_id, wanted))


async def session_page(
    db: AsyncSession, clinic_id: uuid.UUID, wanted: SessionFilter, page: PageParams
) -> Sequence[ClinicalSession]:
    return await _page(db, _sessions(clinic_id, wanted), SESSION_ORDER, page)  # type: ignore[no-any-return]


async def session_count(db: AsyncSession, clinic_id: uuid.UUID, wanted: SessionFilter) -> int:
    return await _count(db, _sessions(clinic_id, wanted))


async def consent_page(
    db: AsyncSession, clinic_id: uuid.UUID, wanted: ConsentFilter, page: PageParams
) -> Sequence[Consent]:
    return await _page(db, _consents(clinic_id, wanted), CONSENT_ORDER, page)  # type: ignore[no-any-return]


async def consent_count(db: AsyncSession, clinic_id: uuid.UUID, wanted: ConsentFilter) -> int:
    return await _count(db, _consents(clinic_id, wanted))


def observation_position(cursor: str) -> tuple[datetime, str]:
    """The (effective instant, Observation id) a merged Observation page resumes after."""
    at, observation_id = decode_cursor(cursor, 2)
    if not isinstance(at, datetime) or at.tzinfo is None or not isinstance(observation_id, str):
        raise InvalidCursor("The cursor belongs to another list.")
    return at, observation_id


async def score_page(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    wanted: ScoreFilter,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Assessment]:
    """Scores in (administered_at, id) order after a merged-page position. An Observation id
    is a score's UUID or a vitals id that starts with a session's UUID, and UUIDs order the
    same as their text on both databases, so comparing with the id's first 36 characters
    keeps one order across both sources."""
    stmt = _scores(clinic_id, wanted)
    if after is not None:
        at, observation_id = after
        try:
            last_id = uuid.UUID(observation_id[:36])
        except ValueError as exc:
            raise InvalidCursor("The cursor belongs to another list.") from exc
        stmt = stmt.where(
            or_(
                Assessment.administered_at > at,
                and_(Assessment.administered_at == at, Assessment.id > last_id),
            )
        )
    stmt = stmt.order_by(Assessment.administered_at, Assessment.id).limit(limit)
    found: Sequence[Assessment] = (await db.execute(stmt)).scalars().all()
    return found


async def score_count(db: AsyncSession, clinic_id: uuid.UUID, wanted: ScoreFilter) -> int:
    return await _count(db, _scores(clinic_id, wanted))


async def dosing_sessions(
    db: AsyncSession, clinic_id: uuid.UUID, clients: AndOr, session_id: uuid.UUID | None = None
) -> Sequence[ClinicalSession]:
    """The patients' dosing sessions that hold vitals (readings live in the row's JSON)."""
    stmt = clinic_scoped(ClinicalSession, clinic_id).where(
        ClinicalSession.kind == SessionKind.ketamine,
        ClinicalSession.vitals.is_not(None),
        *_in(ClinicalSession.client_id, clients),
    )
    if session_id is not None:
        stmt = stmt.where(ClinicalSession.id == session_id)
    return (await db.execute(stmt.order_by(*SESSION_ORDER))).scalars().all()


async def session_by_id(
    db: AsyncSession, clinic_id: uuid.UUID, session_id: uuid.UUID
) -> ClinicalSession | None:
    stmt = clinic_scoped(ClinicalSession, clinic_id).where(ClinicalSession.id == session_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def score_by_id(
    db: AsyncSession, clinic_id: uuid.UUID, assessment_id: uuid.UUID, instruments: Collection[str]
) -> Assessment | None:
    stmt = clinic_scoped(Assessment, clinic_id).where(
        Assessment.id == assessment_id, Assessment.instrument.in_(instruments)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def completed_session_ids(
    db: AsyncSession, clinic_id: uuid.UUID, session_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these sessions completed (are Encounters), for Observation.encounter."""
    if not session_ids:
        return set()
    stmt = select(ClinicalSession.id).where(
        ClinicalSession.clinic_id == clinic_id,
        ClinicalSession.id.in_(session_ids),
        ClinicalSession.status == SessionStatus.completed,
    )
    return set((await db.execute(stmt)).scalars().all())


async def staff_member(db: AsyncSession, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Staff | None:
    stmt = clinic_scoped(Staff, clinic_id).where(Staff.id == staff_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def clients_in_clinic(
    db: AsyncSession, clinic_id: uuid.UUID, client_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    if not client_ids:
        return set()
    stmt = select(Client.id).where(Client.clinic_id == clinic_id, Client.id.in_(client_ids))
    return set((await db.execute(stmt)).scalars().all())
