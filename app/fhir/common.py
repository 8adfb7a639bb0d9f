"""Code systems, extension URLs and the small builders every FHIR mapping shares."""

import uuid
from datetime import UTC, datetime
from typing import Any

from app.sessions.enums import SessionKind

Resource = dict[str, Any]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

OURS = "https://kap-journey.dev/fhir"
CLIENT_ID_SYSTEM = f"{OURS}/client-id"
SESSION_KIND_SYSTEM = f"{OURS}/CodeSystem/session-kind"
SEVERITY_SYSTEM = f"{OURS}/CodeSystem/assessment-severity"
INTEGRATION_WINDOW_URL = f"{OURS}/StructureDefinition/integration-window"
VITALS_TIMEPOINT_URL = f"{OURS}/StructureDefinition/vitals-timepoint"

KIND_LABELS = {
    SessionKind.preparation: "Preparation session",
    SessionKind.ketamine: "Ketamine dosing session",
    SessionKind.integration: "Integration session",
}


def instant(value: datetime) -> str:
    """A FHIR instant / dateTime in UTC with Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reference(
    resource_type: str, resource_id: uuid.UUID | str, display: str | None = None
) -> Resource:
    ref: Resource = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        ref["display"] = display
    return ref


def coding(system: str, code: str, display: str | None = None) -> Resource:
    out: Resource = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def meta(version: int, updated_at: datetime) -> Resource:
    return {"versionId": str(version), "lastUpdated": instant(updated_at)}


def kind_concept(kind: SessionKind) -> Resource:
    label = KIND_LABELS[kind]
    return {"coding": [coding(SESSION_KIND_SYSTEM, kind.value, label)], "text": label}
