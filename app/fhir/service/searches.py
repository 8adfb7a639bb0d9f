"""FHIR searches: filtered, counted and paged in SQL (app.fhir.repository), one page of
resources at a time, with a sealed cursor for the next.

Observations come from two sources: scores (one row each, paged in SQL) and vitals (readings in
a dosing session's JSON column). Both are ordered by (effective instant, id) and merged, so one
cursor pages across them.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_read
from app.auth.principal import Principal
from app.common.pagination import PageParams, encode_cursor, split_page
from app.common.scope import ROLES_WITHOUT_CLINICAL_ACCESS
from app.fhir import repository
from app.fhir.common import Resource
from app.fhir.consent import to_consent
from app.fhir.encounter import is_encounter
from app.fhir.exceptions import SearchForbidden
from app.fhir.filters import (
    ObservationSources,
    consent_filter,
    observation_kind,
    observation_sources,
    patient_filter,
    session_filter,
)
from app.fhir.observation import assessment_observation, vital_observations
from app.fhir.patient import to_patient
from app.fhir.search import DateRange, Search, parse_uuid
from app.fhir.service import reads
from app.staff import repository as staff_repository


@dataclass
class Found:
    """One page of matches, how many match in all, and the cursor of the next page."""

    resources: list[Resource]
    total: int
    next_cursor: str | None = None
    # False when the search names a patient outside the clinic: links would only echo the
    # caller's guess at another clinic's id, so the Bundle carries none.
    echo: bool = True


async def echoes(db: AsyncSession, principal: Principal, search: Search, found: Found) -> Found:
    named = {
        wanted
        for name in ("patient", "subject")
        for ors in search.ids(name)
        for part in ors
        if (wanted := parse_uuid(part)) is not None
    }
    known = await repository.clients_in_clinic(db, principal.clinic_id, named)
    found.echo = named <= known
    return found


def _page(search: Search) -> PageParams:
    return PageParams(limit=search.count, cursor=search.cursor)


def _split(
    rows: Sequence[Any], search: Search, position: Callable[[Any], Sequence[Any]]
) -> tuple[list[Any], str | None]:
    return split_page(rows, _page(search), position)


def is_clinical(principal: Principal) -> bool:
    return principal.role.value not in ROLES_WITHOUT_CLINICAL_ACCESS


async def patients(db: AsyncSession, principal: Principal, search: Search) -> Found:
    clinical = is_clinical(principal)
    if "birthdate" in search.applied and not clinical:
        raise SearchForbidden("A scheduler cannot search by birthdate: it is a clinical field.")
    wanted = patient_filter(search)
    total = await repository.patient_count(db, principal.clinic_id, wanted)
    if search.summary_count:
        return Found([], total)
    rows = await repository.patient_page(db, principal.clinic_id, wanted, _page(search))
    clients, cursor = _split(rows, search, lambda c: (c.last_name, c.first_name, c.id))
    gps = {c.primary_clinician_id for c in clients if c.primary_clinician_id is not None}
    names = await staff_repository.names(db, principal.clinic_id, gps) if gps else {}
    found = []
    for client in clients:
        note_read("client", client.id)
        gp = names.get(client.primary_clinician_id) if client.primary_clinician_id else None
        found.append(to_patient(client, gp, include_birth_date=clinical))
    return Found(found, total, cursor)


async def sessions(
    db: AsyncSession, principal: Principal, search: Search, now: datetime, *, encounters: bool
) -> Found:
    """Appointments (every session) or Encounters (the completed ones)."""
    wanted = session_filter(search, encounters=encounters)
    total = await repository.session_count(db, principal.clinic_id, wanted)
    if search.summary_count:
        return Found([], total)
    rows = await repository.session_page(db, principal.clinic_id, wanted, _page(search))
    page, cursor = _split(rows, search, lambda s: (s.starts_at, s.id))
    if encounters:
        return Found(await reads.encounters(db, principal, page), total, cursor)
    return Found(await reads.appointments(db, principal, page, now), total, cursor)


async def consents(db: AsyncSession, principal: Principal, search: Search, now: datetime) -> Found:
    wanted = consent_filter(search, now)
    total = await repository.consent_count(db, principal.clinic_id, wanted)
    if search.summary_count:
        return Found([], total)
    rows = await repository.consent_page(db, principal.clinic_id, wanted, _page(search))
    page, cursor = _split(rows, search, lambda c: (c.signed_at, c.id))
    for row in page:
        note_read("client", row.client_id)
        note_read("consent", row.id)
    return Found([to_consent(row, now) for row in page], total, cursor)


def date_in(wanted: DateRange, at: datetime) -> bool:
    """The SQL date comparison (repository.date_matches) for one instant."""
    inside = wanted.start <= at < wanted.end
    return {
        "eq": inside,
        "ne": not inside,
        "lt": at < wanted.start,
        "gt": at >= wanted.end,
        "le": at < wanted.end,
        "ge": at >= wanted.start,
    }[wanted.prefix]


def _effective(observation: Resource) -> datetime:
    return datetime.fromisoformat(observation["effectiveDateTime"])


async def _vitals(
    db: AsyncSession, principal: Principal, sources: ObservationSources
) -> list[Resource]:
    """The matching vitals readings, ordered. SQL picks the patient's dosing sessions that hold
    vitals; the readings inside the row's JSON are then matched on kind and date."""
    if not sources.vitals:
        return []
    rows = await repository.dosing_sessions(db, principal.clinic_id, sources.clients)
    dates = sources.search.dates("date")
    found = [
        reading
        for session in rows
        for reading in vital_observations(session, with_encounter=is_encounter(session))
        if observation_kind(reading["id"]) in sources.vitals
        and all(date_in(when, _effective(reading)) for when in dates)
    ]
    return sorted(found, key=lambda o: (_effective(o), o["id"]))


async def _scores(
    db: AsyncSession,
    principal: Principal,
    sources: ObservationSources,
    after: tuple[datetime, str] | None,
) -> list[Resource]:
    if not sources.instruments:
        return []
    limit = sources.search.count + 1
    rows = await repository.score_page(db, principal.clinic_id, sources.scores(), after, limit)
    linked = {row.session_id for row in rows if row.session_id is not None}
    done = await repository.completed_session_ids(db, principal.clinic_id, linked)
    found = []
    for row in rows:
        encounter = str(row.session_id) if row.session_id in done else None
        made = assessment_observation(row, encounter)
        if made is not None:
            found.append(made)
    return found


async def observations(db: AsyncSession, principal: Principal, search: Search) -> Found:
    sources = observation_sources(search)
    vitals = await _vitals(db, principal, sources)
    total = len(vitals)
    if sources.instruments:
        total += await repository.score_count(db, principal.clinic_id, sources.scores())
    if search.summary_count:
        return Found([], total)
    after = None if search.cursor is None else repository.observation_position(search.cursor)
    if after is not None:
        vitals = [o for o in vitals if (_effective(o), o["id"]) > after]
    merged = sorted(
        vitals + await _scores(db, principal, sources, after),
        key=lambda o: (_effective(o), o["id"]),
    )
    page = merged[: search.count]
    cursor = None
    if len(merged) > search.count:
        cursor = encode_cursor([_effective(page[-1]), page[-1]["id"]])
    for observation in page:
        # A vitals id is the session's id with a suffix; a score's is the assessment's own.
        is_vitals = len(observation["id"]) > 36
        note_read("client", observation["subject"]["reference"].removeprefix("Patient/"))
        note_read("session" if is_vitals else "assessment", observation["id"][:36])
    return Found(page, total, cursor)
