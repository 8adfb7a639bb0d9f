"""A client's records as FHIR resources ($everything, Patient and Consent reads), each exposed
record noted in the audit trail."""

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments import repository as assessments_repository
from app.audit.trail import note_read
from app.auth.principal import Principal
from app.clients import repository as clients_repository
from app.clients.models import Client
from app.common.scope import ROLES_WITHOUT_CLINICAL_ACCESS
from app.consents import repository as consents_repository
from app.consents.models import Consent
from app.fhir.appointment import to_appointment
from app.fhir.common import Resource
from app.fhir.consent import fhir_status, to_consent
from app.fhir.encounter import is_encounter, to_encounter
from app.fhir.exceptions import ConsentNotFound, PatientNotFound
from app.fhir.observation import (
    EXPORTED_INSTRUMENTS,
    SURVEY,
    VITAL_SIGNS,
    assessment_observation,
    vital_observations,
)
from app.fhir.patient import to_patient
from app.sessions import repository as session_repository
from app.sessions.enums import SessionKind
from app.sessions.models import ClinicalSession
from app.staff import repository as staff_repository
from app.windows.service import Evaluation, evaluate_all


@dataclass
class Sessions:
    """One client's sessions in journey order, with their clinicians' names."""

    rows: Sequence[ClinicalSession]
    names: dict[uuid.UUID, str]


def patient_id(reference: str) -> uuid.UUID | None:
    """The client id in a `patient` search value: `<id>`, `Patient/<id>` or a full URL."""
    try:
        return uuid.UUID(reference.rsplit("Patient/", 1)[-1])
    except ValueError:
        return None


async def find_client(
    db: AsyncSession, principal: Principal, client_id: uuid.UUID | None
) -> Client | None:
    if client_id is None:
        return None
    return await clients_repository.client_row(db, principal.clinic_id, client_id)


async def client_or_404(db: AsyncSession, principal: Principal, client_id: str) -> Client:
    """The client behind a Patient id; another clinic's (or a malformed id) is a 404."""
    client = await find_client(db, principal, patient_id(client_id))
    if client is None:
        raise PatientNotFound(f"No Patient {client_id} in this clinic.")
    return client


async def _names(
    db: AsyncSession, clinic_id: uuid.UUID, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    wanted = {staff_id for staff_id in ids if staff_id is not None}
    if not wanted:
        return {}
    return await staff_repository.names(db, clinic_id, wanted)


async def load_sessions(db: AsyncSession, principal: Principal, client: Client) -> Sessions:
    rows = await session_repository.for_client(db, principal.clinic_id, client.id)
    names = await _names(db, principal.clinic_id, (s.clinician_id for s in rows))
    return Sessions(rows, names)


async def patient(db: AsyncSession, principal: Principal, client: Client) -> Resource:
    """The Patient; a scheduler's has no birthDate (a clinical field in this product)."""
    names = await _names(db, principal.clinic_id, [client.primary_clinician_id])
    note_read("client", client.id)
    clinical = principal.role.value not in ROLES_WITHOUT_CLINICAL_ACCESS
    gp_name = names.get(client.primary_clinician_id) if client.primary_clinician_id else None
    return to_patient(client, gp_name, include_birth_date=clinical)


async def appointments(
    db: AsyncSession, principal: Principal, found: Sessions, now: datetime
) -> list[Resource]:
    """Every session as an Appointment, integration sessions with their window."""
    evaluations: dict[uuid.UUID, Evaluation] = await evaluate_all(
        db, principal.clinic_id, found.rows, principal.policy, now
    )
    for session in found.rows:
        note_read("session", session.id)
    return [
        to_appointment(s, evaluations.get(s.id), found.names.get(s.clinician_id))
        for s in found.rows
    ]


def encounters(found: Sessions) -> list[Resource]:
    """The completed sessions as finished Encounters."""
    done = [session for session in found.rows if is_encounter(session)]
    for session in done:
        note_read("session", session.id)
    return [to_encounter(s, found.names.get(s.clinician_id)) for s in done]


def _vitals(found: Sessions) -> list[Resource]:
    out: list[Resource] = []
    for session in found.rows:
        if session.kind is not SessionKind.ketamine or not session.vitals:
            continue
        made = vital_observations(session, with_encounter=is_encounter(session))
        if made:
            note_read("session", session.id)
            out += made
    return out


async def _surveys(
    db: AsyncSession, principal: Principal, client: Client, found: Sessions
) -> list[Resource]:
    assessments = await assessments_repository.for_client(
        db, principal.clinic_id, client.id, EXPORTED_INSTRUMENTS
    )
    encounter_ids = {s.id for s in found.rows if is_encounter(s)}
    out: list[Resource] = []
    for assessment in assessments:
        encounter = assessment.session_id if assessment.session_id in encounter_ids else None
        observation = assessment_observation(assessment, str(encounter) if encounter else None)
        if observation is not None:
            note_read("assessment", assessment.id)
            out.append(observation)
    return out


async def observations(
    db: AsyncSession,
    principal: Principal,
    client: Client,
    found: Sessions,
    categories: Collection[str] | None = None,
) -> list[Resource]:
    """Vitals (vital-signs) and PHQ-9/GAD-7 totals (survey), oldest first."""
    out: list[Resource] = []
    if categories is None or VITAL_SIGNS in categories:
        out += _vitals(found)
    if categories is None or SURVEY in categories:
        out += await _surveys(db, principal, client, found)
    return sorted(out, key=lambda o: datetime.fromisoformat(o["effectiveDateTime"]))


def _resource_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def consent_or_404(db: AsyncSession, principal: Principal, consent_id: str) -> Consent:
    """A consent of the clinic by its id; another clinic's (or a malformed id) is a 404."""
    wanted = _resource_id(consent_id)
    found = (
        None if wanted is None else await consents_repository.by_id(db, principal.clinic_id, wanted)
    )
    if found is None:
        raise ConsentNotFound(f"No Consent {consent_id} in this clinic.")
    return found


def consent(found: Consent, now: datetime) -> Resource:
    note_read("consent", found.id)
    return to_consent(found, now)


async def consents(
    db: AsyncSession,
    principal: Principal,
    client: Client,
    now: datetime,
    statuses: Collection[str] | None = None,
) -> list[Resource]:
    """The client's consents in the order signed; with `statuses`, those whose FHIR status
    (as of now) is one of them."""
    rows = await consents_repository.for_client(db, principal.clinic_id, client.id)
    return [
        consent(row, now) for row in rows if statuses is None or fhir_status(row, now) in statuses
    ]


async def everything(
    db: AsyncSession, principal: Principal, client: Client, now: datetime
) -> list[Resource]:
    """The Patient, then its Appointments, Encounters, Observations and Consents."""
    found = await load_sessions(db, principal, client)
    return [
        await patient(db, principal, client),
        *await appointments(db, principal, found, now),
        *encounters(found),
        *await observations(db, principal, client, found),
        *await consents(db, principal, client, now),
    ]
