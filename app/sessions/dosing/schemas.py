"""The dosing record as the API takes and shows it, and as the session table stores it."""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, Field, StrictBool, model_validator

from app.common.schemas import InputModel, InputTimestamp, LongText, UTCTimestamp


class Medication(StrEnum):
    ketamine = "ketamine"
    esketamine = "esketamine"  # Spravato: intranasal only, under the REMS


class VitalLabel(StrEnum):
    pre_dose = "pre_dose"
    peak = "peak"
    discharge = "discharge"
    other = "other"


class AdverseEventKind(StrEnum):
    nausea = "nausea"
    vomiting = "vomiting"
    dissociation_distress = "dissociation_distress"
    anxiety = "anxiety"
    hypertension = "hypertension"
    tachycardia = "tachycardia"
    sedation = "sedation"
    respiratory_depression = "respiratory_depression"
    headache = "headache"
    dizziness = "dizziness"
    other = "other"


class AdverseSeverity(StrEnum):
    mild = "mild"
    moderate = "moderate"
    severe = "severe"


# Physiological ranges: wide enough for any real reading, narrow enough to catch typos.
Systolic = Annotated[int, Field(ge=50, le=300, description="mmHg")]
Diastolic = Annotated[int, Field(ge=20, le=200, description="mmHg")]
HeartRate = Annotated[int, Field(ge=20, le=250, description="beats per minute")]
SpO2 = Annotated[int, Field(ge=50, le=100, description="percent")]


class VitalSigns(InputModel):
    """One set of vital signs; at least one measurement."""

    taken_at: InputTimestamp
    label: VitalLabel
    systolic: Systolic | None = None
    diastolic: Diastolic | None = None
    heart_rate: HeartRate | None = None
    spo2: SpO2 | None = None

    @model_validator(mode="after")
    def _plausible(self) -> "VitalSigns":
        readings = (self.systolic, self.diastolic, self.heart_rate, self.spo2)
        if all(value is None for value in readings):
            raise ValueError("record at least one of systolic, diastolic, heart_rate, spo2")
        if (self.systolic is None) != (self.diastolic is None):
            raise ValueError("blood pressure needs both systolic and diastolic")
        pressure = (self.systolic, self.diastolic)
        if pressure[0] is not None and pressure[1] is not None and pressure[1] >= pressure[0]:
            raise ValueError("diastolic must be below systolic")
        return self


class AdverseEvent(InputModel):
    kind: AdverseEventKind
    severity: AdverseSeverity
    onset_at: InputTimestamp
    notes: Annotated[LongText, Field(max_length=2000)] | None = None


class VitalSignsRead(BaseModel):
    taken_at: UTCTimestamp
    label: VitalLabel
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None


class AdverseEventRead(BaseModel):
    kind: AdverseEventKind
    severity: AdverseSeverity
    onset_at: UTCTimestamp
    notes: str | None


REMS_RECORD_EVIDENCE = (
    "Evidence: [rems-monitoring-record](/docs/clinical-evidence#rems-monitoring-record)"
)
REMS_AND_MONITORING_EVIDENCE = (
    REMS_RECORD_EVIDENCE + " and /docs/clinical-evidence#esketamine-monitoring"
)
UNANSWERED = "null: not yet answered."


class ConcomitantMedications(InputModel):
    """The REMS patient-monitoring form's questions: is the client taking any of these?

    A PATCH changes the answers it names and keeps the others; `null` for the whole object
    clears them all."""

    benzodiazepines: StrictBool | None = Field(default=None, description=UNANSWERED)
    non_benzodiazepine_sedative_hypnotics: StrictBool | None = Field(
        default=None, description=UNANSWERED
    )
    psychostimulants: StrictBool | None = Field(default=None, description=UNANSWERED)
    maois: StrictBool | None = Field(default=None, description=UNANSWERED)


class ConcomitantMedicationsRead(BaseModel):
    benzodiazepines: bool | None
    non_benzodiazepine_sedative_hypnotics: bool | None
    psychostimulants: bool | None
    maois: bool | None


# Each answer has a column of its own, so the REMS-complete filter needs no JSON.
CONCOMITANT_COLUMNS = {name: f"concomitant_{name}" for name in ConcomitantMedications.model_fields}

DOSING_FIELDS = frozenset(
    {
        "medication",
        "lot_number",
        "vitals",
        "adverse_events",
        "dosed_at",
        "ready_to_leave_at",
        "discharged_at",
        "transport_confirmed",
        "concomitant_medications",
        "rems_form_submitted_at",
    }
)
COMPUTED_FIELDS = frozenset({"rems_form_due_at", "rems_record_missing", "safety_flags"})

# The REMS blood pressure "at about 40 minutes": any reading taken this long after the dose,
# both ends included. Fixed, not clinic policy: it is stored as a fact at write time.
POST_DOSE_BP_FROM = timedelta(minutes=30)
POST_DOSE_BP_UNTIL = timedelta(minutes=60)


class Timeline(Protocol):
    """What the derived facts are computed from, as the session holds it."""

    vitals: list[dict[str, Any]] | None
    dosed_at: datetime | None


def _instant(text: str) -> datetime:
    # Stored vitals carry an offset; a bare time is read as UTC, the storage convention.
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def vitals_facts(
    vitals: Iterable[Mapping[str, Any]] | None, dosed_at: datetime | None
) -> dict[str, Any]:
    """What the safety flags read from the vitals (stored as JSON), as column values: the
    highest pre-dose pressure, and the REMS readings relative to the dose. Recomputed whenever
    the vitals or the dose time change, so the SQL filters need no JSON."""
    readings = [(_instant(v["taken_at"]), v) for v in vitals or []]
    pressures = [(at, v) for at, v in readings if v.get("systolic") is not None]
    pre = [v for _, v in pressures if v["label"] == VitalLabel.pre_dose.value]
    oximetry = [at for at, v in readings if v.get("spo2") is not None]
    return {
        "pre_dose_systolic_peak": max((v["systolic"] for v in pre), default=None),
        "pre_dose_diastolic_peak": max((v["diastolic"] for v in pre), default=None),
        "has_bp_30_to_60_min": dosed_at is not None
        and any(POST_DOSE_BP_FROM <= at - dosed_at <= POST_DOSE_BP_UNTIL for at, _ in pressures),
        "has_discharge_bp": any(v["label"] == VitalLabel.discharge.value for _, v in pressures),
        "has_spo2_after_dose": dosed_at is not None and any(at > dosed_at for at in oximetry),
    }


def stored(changes: Mapping[str, Any], current: Timeline) -> dict[str, Any]:
    """Dosing changes as column values: timelines as JSON, one column per concomitant answer
    (only those sent change), and the facts derived from the vitals and the dose time."""
    values = dict(changes)
    if "vitals" in values:
        vitals: Iterable[VitalSigns] = values["vitals"] or []
        ordered = sorted(vitals, key=lambda v: v.taken_at)
        values["vitals"] = [v.model_dump(mode="json") for v in ordered]
    if "adverse_events" in values:
        events: Iterable[AdverseEvent] = values["adverse_events"] or []
        values["adverse_events"] = [
            e.model_dump(mode="json") for e in sorted(events, key=lambda e: e.onset_at)
        ]
    if "concomitant_medications" in values:
        answers: ConcomitantMedications | None = values.pop("concomitant_medications")
        sent = answers.model_fields_set if answers is not None else CONCOMITANT_COLUMNS.keys()
        for name in sent:
            values[CONCOMITANT_COLUMNS[name]] = getattr(answers, name, None)
    if isinstance(values.get("medication"), Medication):
        values["medication"] = values["medication"].value
    if "vitals" in values or "dosed_at" in values:
        values |= vitals_facts(
            values.get("vitals", current.vitals), values.get("dosed_at", current.dosed_at)
        )
    return values
