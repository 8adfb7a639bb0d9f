"""The dosing record as the API takes and shows it, and as the session table stores it."""

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

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


DOSING_FIELDS = frozenset(
    {
        "medication",
        "lot_number",
        "vitals",
        "adverse_events",
        "dosed_at",
        "discharged_at",
        "transport_confirmed",
        "rems_form_submitted_at",
    }
)
COMPUTED_FIELDS = frozenset({"rems_form_due_at", "safety_flags"})


def stored(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Dosing changes as column values: timelines as JSON, plus the pre-dose peaks."""
    values = dict(changes)
    if "vitals" in values:
        vitals: Iterable[VitalSigns] = values["vitals"] or []
        ordered = sorted(vitals, key=lambda v: v.taken_at)
        values["vitals"] = [v.model_dump(mode="json") for v in ordered]
        pre = [v for v in ordered if v.label is VitalLabel.pre_dose and v.systolic is not None]
        values["pre_dose_systolic_peak"] = max((v.systolic or 0 for v in pre), default=None)
        values["pre_dose_diastolic_peak"] = max((v.diastolic or 0 for v in pre), default=None)
    if "adverse_events" in values:
        events: Iterable[AdverseEvent] = values["adverse_events"] or []
        values["adverse_events"] = [
            e.model_dump(mode="json") for e in sorted(events, key=lambda e: e.onset_at)
        ]
    if isinstance(values.get("medication"), Medication):
        values["medication"] = values["medication"].value
    return values
