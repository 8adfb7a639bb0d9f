"""Session (any kind, any status) -> FHIR Appointment."""

from app.fhir.common import (
    INTEGRATION_WINDOW_URL,
    Resource,
    instant,
    kind_concept,
    meta,
    reference,
)
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.windows.rules import IntegrationWindow
from app.windows.service import Evaluation

APPOINTMENT_STATUS = {
    SessionStatus.scheduled: "booked",
    SessionStatus.completed: "fulfilled",
    SessionStatus.cancelled: "cancelled",
    SessionStatus.no_show: "noshow",
}
# Appointment invariant app-4: a cancelation reason only on cancelled or no-show appointments.
REASON_STATUSES = {SessionStatus.cancelled, SessionStatus.no_show}


def window_extension(window: IntegrationWindow) -> Resource:
    """The integration session's place relative to its dose's window, as a complex extension."""
    parts: list[Resource] = [{"url": "status", "valueCode": window.status.value}]
    if window.opens_at is not None and window.closes_at is not None:
        period = {"start": instant(window.opens_at), "end": instant(window.closes_at)}
        parts.append({"url": "window", "valuePeriod": period})
    if window.ketamine_session_id is not None:
        parts.append(
            {
                "url": "ketamineSession",
                "valueReference": reference("Appointment", window.ketamine_session_id),
            }
        )
        parts.append({"url": "linked", "valueBoolean": window.linked})
    if window.hours_after_dose is not None:
        parts.append({"url": "hoursAfterDose", "valueDecimal": window.hours_after_dose})
    return {"url": INTEGRATION_WINDOW_URL, "extension": parts}


def to_appointment(
    session: ClinicalSession, evaluation: Evaluation, clinician_name: str | None
) -> Resource:
    """The Appointment for a session; integration sessions carry their window evaluation."""
    appointment: Resource = {
        "resourceType": "Appointment",
        "id": str(session.id),
        "meta": meta(session.version, session.updated_at),
        "status": APPOINTMENT_STATUS[session.status],
    }
    if session.kind is SessionKind.integration and isinstance(evaluation, IntegrationWindow):
        appointment["extension"] = [window_extension(evaluation)]
    if session.status in REASON_STATUSES and session.cancellation_reason:
        appointment["cancelationReason"] = {"text": session.cancellation_reason}
    appointment |= {
        "serviceType": [kind_concept(session.kind)],
        "appointmentType": {"text": kind_concept(session.kind)["text"]},
        "start": instant(session.starts_at),
        "end": instant(session.ends_at),
        "created": instant(session.created_at),
        "participant": [
            {"actor": reference("Patient", session.client_id), "status": "accepted"},
            {
                "actor": reference("Practitioner", session.clinician_id, clinician_name),
                "status": "accepted",
            },
        ],
    }
    return appointment
