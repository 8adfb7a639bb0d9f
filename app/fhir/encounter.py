"""Completed session -> FHIR Encounter."""

from app.fhir.common import (
    V3_ACT_CODE,
    V3_PARTICIPATION_TYPE,
    Resource,
    coding,
    instant,
    kind_concept,
    meta,
    reference,
)
from app.sessions.enums import Location, SessionStatus
from app.sessions.models import ClinicalSession

ENCOUNTER_CLASS = {
    Location.in_person: coding(V3_ACT_CODE, "AMB", "ambulatory"),
    Location.telehealth: coding(V3_ACT_CODE, "VR", "virtual"),
}
PRIMARY_PERFORMER = {"coding": [coding(V3_PARTICIPATION_TYPE, "PPRF", "primary performer")]}


def is_encounter(session: ClinicalSession) -> bool:
    """Only a completed session happened; the others stay Appointments."""
    return session.status is SessionStatus.completed


def to_encounter(session: ClinicalSession, clinician_name: str | None) -> Resource:
    """The finished Encounter of a completed session; it ends when recorded, else as planned."""
    end = session.ended_at or session.ends_at
    return {
        "resourceType": "Encounter",
        "id": str(session.id),
        "meta": meta(session.version, session.updated_at),
        "status": "finished",
        "class": ENCOUNTER_CLASS[session.location],
        "type": [kind_concept(session.kind)],
        "subject": reference("Patient", session.client_id),
        "participant": [
            {
                "type": [PRIMARY_PERFORMER],
                "individual": reference("Practitioner", session.clinician_id, clinician_name),
            }
        ],
        "appointment": [reference("Appointment", session.id)],
        "period": {"start": instant(session.starts_at), "end": instant(end)},
    }
