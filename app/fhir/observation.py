"""Dosing-session vitals and assessment totals -> FHIR Observations (LOINC coded).

Codes: docs/clinical-evidence.md, "FHIR codes". The PCL-5 total is LOINC 101698-9 "PTSD
PCL-5 score [PCL-5]", the score member of the PCL-5 panel 101697-1 (LOINC 2.75 and later).
"""

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from app.assessments.models import Assessment, AssessmentSource
from app.fhir.common import (
    DATA_ABSENT_REASON,
    LOINC,
    OBSERVATION_CATEGORY,
    SEVERITY_SYSTEM,
    UCUM,
    VITALS_TIMEPOINT_URL,
    Resource,
    coding,
    instant,
    reference,
)
from app.sessions.models import ClinicalSession

VITAL_SIGNS = "vital-signs"
SURVEY = "survey"
CATEGORIES = {
    VITAL_SIGNS: {"coding": [coding(OBSERVATION_CATEGORY, VITAL_SIGNS, "Vital Signs")]},
    SURVEY: {"coding": [coding(OBSERVATION_CATEGORY, SURVEY, "Survey")]},
}
BP_PANEL = coding(LOINC, "85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = coding(LOINC, "8480-6", "Systolic blood pressure")
DIASTOLIC = coding(LOINC, "8462-4", "Diastolic blood pressure")
HEART_RATE = coding(LOINC, "8867-4", "Heart rate")
SPO2_ARTERIAL = coding(LOINC, "2708-6", "Oxygen saturation in Arterial blood")
SPO2_PULSE_OXIMETRY = coding(
    LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"
)
INSTRUMENT_CODES = {
    "phq9": (
        "PHQ-9",
        coding(LOINC, "44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score"),
    ),
    "gad7": (
        "GAD-7",
        coding(LOINC, "70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score"),
    ),
    # LOINC 101698-9, member of panel 101697-1 (PCL-5, civilian version, DSM-5).
    "pcl5": ("PCL-5", coding(LOINC, "101698-9", "PTSD PCL-5 score [PCL-5]")),
}
EXPORTED_INSTRUMENTS = tuple(INSTRUMENT_CODES)
# The Observation.code codings of each vitals reading kind (its id suffix), for code search.
VITAL_CODES = {
    "bp": (BP_PANEL,),
    "hr": (HEART_RATE,),
    "spo2": (SPO2_ARTERIAL, SPO2_PULSE_OXIMETRY),
}


def _quantity(value: int, unit: str, code: str) -> Resource:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _mmhg(value: Any) -> Resource:
    if value is None:  # the vital-signs BP profile keeps both components, absent or not
        return {"dataAbsentReason": {"coding": [coding(DATA_ABSENT_REASON, "unknown", "Unknown")]}}
    return {"valueQuantity": _quantity(int(value), "mmHg", "mm[Hg]")}


def _taken(value: Any) -> datetime | None:
    try:
        taken = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    # Stored vitals carry an offset; a bare time is read as UTC, the storage convention.
    return taken if taken.tzinfo else taken.replace(tzinfo=UTC)


def _effective(value: Any) -> str | None:
    taken = _taken(value)
    return None if taken is None else instant(taken)


def _vital(
    session: ClinicalSession, obs_id: str, code: Resource, entry: Resource, with_encounter: bool
) -> Resource:
    observation: Resource = {"resourceType": "Observation", "id": obs_id}
    if entry.get("label"):
        observation["extension"] = [{"url": VITALS_TIMEPOINT_URL, "valueCode": str(entry["label"])}]
    observation |= {
        "status": "final",
        "category": [CATEGORIES[VITAL_SIGNS]],
        "code": code,
        "subject": reference("Patient", session.client_id),
    }
    if with_encounter:
        observation["encounter"] = reference("Encounter", session.id)
    return observation


def _entry_observations(
    session: ClinicalSession, key: str, entry: Resource, with_encounter: bool
) -> list[Resource]:
    effective = _effective(entry.get("taken_at"))
    if effective is None:
        return []
    prefix = f"{session.id}-{key}"
    found: list[Resource] = []
    systolic, diastolic = entry.get("systolic"), entry.get("diastolic")
    if systolic is not None or diastolic is not None:
        code = {"coding": [BP_PANEL], "text": "Blood pressure"}
        components = [
            {"code": {"coding": [SYSTOLIC]}, **_mmhg(systolic)},
            {"code": {"coding": [DIASTOLIC]}, **_mmhg(diastolic)},
        ]
        found.append(
            _vital(session, f"{prefix}-bp", code, entry, with_encounter)
            | {"effectiveDateTime": effective, "component": components}
        )
    if entry.get("heart_rate") is not None:
        code = {"coding": [HEART_RATE], "text": "Heart rate"}
        value = _quantity(int(entry["heart_rate"]), "beats/minute", "/min")
        found.append(
            _vital(session, f"{prefix}-hr", code, entry, with_encounter)
            | {"effectiveDateTime": effective, "valueQuantity": value}
        )
    if entry.get("spo2") is not None:
        code = {"coding": [SPO2_ARTERIAL, SPO2_PULSE_OXIMETRY], "text": "Oxygen saturation"}
        value = _quantity(int(entry["spo2"]), "%", "%")
        found.append(
            _vital(session, f"{prefix}-spo2", code, entry, with_encounter)
            | {"effectiveDateTime": effective, "valueQuantity": value}
        )
    return found


def vital_observations(session: ClinicalSession, *, with_encounter: bool) -> list[Resource]:
    """Blood pressure (panel), heart rate and SpO2 for every vitals entry of a dosing session.

    Ids are `<session id>-<unix seconds taken>-<bp|hr|spo2>` (`.2`, `.3` after the seconds
    for readings in the same second), so an id keeps naming the same reading when an earlier
    one is added or removed. The encounter is referenced only when the session completed,
    since only completed sessions are Encounters.
    """
    found: list[Resource] = []
    seen: Counter[str] = Counter()
    for entry in session.vitals or []:
        second = _epoch_second(entry.get("taken_at"))
        seen[second] += 1
        key = second if seen[second] == 1 else f"{second}.{seen[second]}"
        found += _entry_observations(session, key, entry, with_encounter)
    return found


def _epoch_second(taken_at: Any) -> str:
    taken = _taken(taken_at)
    # An unreadable time yields no observation (see _effective), so its key is never shown.
    return "unparsed" if taken is None else str(int(taken.timestamp()))


def _performer(assessment: Assessment) -> Resource:
    """Who answered: the client on a self-report link, else the staff member who recorded it,
    so a FHIR reader can tell self-reported scores from clinician-administered ones."""
    if assessment.source == AssessmentSource.client_self_report:
        return reference("Patient", assessment.client_id)
    return reference("Practitioner", assessment.recorded_by)


def assessment_observation(assessment: Assessment, encounter_id: str | None) -> Resource | None:
    """The total score of a PHQ-9, GAD-7 or PCL-5 (with its severity band where the instrument
    has one); None for other instruments."""
    known = INSTRUMENT_CODES.get(assessment.instrument)
    if known is None:
        return None
    name, code = known
    observation: Resource = {
        "resourceType": "Observation",
        "id": str(assessment.id),
        "status": "final",
        "category": [CATEGORIES[SURVEY]],
        "code": {"coding": [code], "text": f"{name} total score"},
        "subject": reference("Patient", assessment.client_id),
    }
    if encounter_id is not None:
        observation["encounter"] = reference("Encounter", encounter_id)
    observation |= {
        "effectiveDateTime": instant(assessment.administered_at),
        "issued": instant(assessment.created_at),
        "performer": [_performer(assessment)],
        "valueInteger": assessment.total,
    }
    if assessment.severity:
        text = assessment.severity.replace("_", " ")
        observation["interpretation"] = [
            {"coding": [coding(SEVERITY_SYSTEM, assessment.severity, text)], "text": text}
        ]
    return observation
