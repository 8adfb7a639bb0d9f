"""Reads by id of Appointment, Encounter, Observation and Practitioner: every reference an
exported resource holds resolves here for a caller allowed to see it. Another clinic's record,
or an id that names nothing, is a 404."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_read
from app.auth.principal import Principal
from app.fhir import repository
from app.fhir.appointment import to_appointment
from app.fhir.common import Resource
from app.fhir.encounter import is_encounter, to_encounter
from app.fhir.exceptions import ResourceNotFound
from app.fhir.observation import EXPORTED_INSTRUMENTS, assessment_observation, vital_observations
from app.fhir.practitioner import to_practitioner
from app.fhir.search import parse_uuid
from app.sessions.models import ClinicalSession
from app.staff import repository as staff_repository
from app.windows.service import evaluate_all


def _missing(resource_type: str, resource_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"No {resource_type} {resource_id} in this clinic.")


async def _session(
    db: AsyncSession, principal: Principal, resource_type: str, resource_id: str
) -> ClinicalSession:
    wanted = parse_uuid(resource_id)
    found = (
        None if wanted is None else await repository.session_by_id(db, principal.clinic_id, wanted)
    )
    if found is None:
        raise _missing(resource_type, resource_id)
    return found


async def clinician_names(
    db: AsyncSession, principal: Principal, sessions: list[ClinicalSession]
) -> dict[uuid.UUID, str]:
    wanted = {s.clinician_id for s in sessions}
    return await staff_repository.names(db, principal.clinic_id, wanted) if wanted else {}


async def appointments(
    db: AsyncSession, principal: Principal, sessions: list[ClinicalSession], now: datetime
) -> list[Resource]:
    """Sessions as Appointments, integration sessions with their window, each read noted."""
    evaluations = await evaluate_all(db, principal.clinic_id, sessions, principal.policy, now)
    names = await clinician_names(db, principal, sessions)
    for session in sessions:
        note_read("client", session.client_id)
        note_read("session", session.id)
    return [to_appointment(s, evaluations.get(s.id), names.get(s.clinician_id)) for s in sessions]


async def encounters(
    db: AsyncSession, principal: Principal, sessions: list[ClinicalSession]
) -> list[Resource]:
    names = await clinician_names(db, principal, sessions)
    for session in sessions:
        note_read("client", session.client_id)
        note_read("session", session.id)
    return [to_encounter(s, names.get(s.clinician_id)) for s in sessions]


async def appointment(
    db: AsyncSession, principal: Principal, appointment_id: str, now: datetime
) -> Resource:
    session = await _session(db, principal, "Appointment", appointment_id)
    [found] = await appointments(db, principal, [session], now)
    return found


async def encounter(db: AsyncSession, principal: Principal, encounter_id: str) -> Resource:
    """Only a completed session is an Encounter; any other session id is a 404 here."""
    session = await _session(db, principal, "Encounter", encounter_id)
    if not is_encounter(session):
        raise _missing("Encounter", encounter_id)
    [found] = await encounters(db, principal, [session])
    return found


async def observation(db: AsyncSession, principal: Principal, observation_id: str) -> Resource:
    """A score (its id is the assessment's) or a vitals reading (`<session id>-<when>-<kind>`)."""
    clinic_id = principal.clinic_id
    score_id = parse_uuid(observation_id)
    if score_id is not None:
        score = await repository.score_by_id(db, clinic_id, score_id, EXPORTED_INSTRUMENTS)
        made = None
        if score is not None:
            done = await repository.completed_session_ids(
                db, clinic_id, [score.session_id] if score.session_id else []
            )
            made = assessment_observation(score, str(score.session_id) if done else None)
        if made is None or score is None:
            raise _missing("Observation", observation_id)
        note_read("client", score.client_id)
        note_read("assessment", score.id)
        return made
    session_id = parse_uuid(observation_id[:36])
    sessions = (
        []
        if session_id is None
        else await repository.dosing_sessions(db, clinic_id, [], session_id=session_id)
    )
    for session in sessions:
        for reading in vital_observations(session, with_encounter=is_encounter(session)):
            if reading["id"] == observation_id:
                note_read("client", session.client_id)
                note_read("session", session.id)
                return reading
    raise _missing("Observation", observation_id)


async def practitioner(db: AsyncSession, principal: Principal, practitioner_id: str) -> Resource:
    wanted = parse_uuid(practitioner_id)
    member = (
        None if wanted is None else await repository.staff_member(db, principal.clinic_id, wanted)
    )
    if member is None:
        raise _missing("Practitioner", practitioner_id)
    return to_practitioner(member)
