"""Screening schemas: the eleven contraindications, the decision, and the clearance summary."""

from typing import Any

from pydantic import BaseModel, Field, StrictBool, model_validator

from app.common.schemas import (
    ALWAYS_PRESENT,
    Id,
    InputModel,
    InputTimestamp,
    LongText,
    UTCTimestamp,
)
from app.screenings.rules import ClearanceStatus, Decision
from app.sessions.dosing.schemas import Diastolic, Systolic
from app.sessions.schemas import Reason

EVIDENCE = " Evidence: [contraindications](/docs/clinical-evidence#contraindications)"
LABEL = "Spravato label: contraindicated."
CAUTION = "Spravato label: use with caution."
TRIALS = "An exclusion of ketamine trials and KAP programmes."


def _code(meaning: str, source: str) -> Any:
    """A required code (no default): its meaning and where the contraindication comes from."""
    return Field(description=f"{meaning} {source}{EVIDENCE}")


class Contraindications(InputModel):
    """Every code must be present, true or false (a missing or unknown code is a 422 naming
    it): an absent answer is never read as "no"."""

    uncontrolled_hypertension: StrictBool = _code("Hypertension not under control.", TRIALS)
    aneurysmal_vascular_disease: StrictBool = _code(
        "Aneurysmal vascular disease (thoracic and abdominal aorta, intracranial and peripheral "
        "arterial vessels).",
        LABEL,
    )
    arteriovenous_malformation: StrictBool = _code("Arteriovenous malformation.", LABEL)
    intracerebral_hemorrhage_history: StrictBool = _code(
        "A history of intracerebral haemorrhage.", LABEL
    )
    psychosis_history: StrictBool = _code("A history of psychosis.", CAUTION)
    mania_history: StrictBool = _code("A history of mania.", TRIALS)
    active_substance_use_disorder: StrictBool = _code("An active substance use disorder.", CAUTION)
    pregnancy_or_breastfeeding: StrictBool = _code("Pregnant or breastfeeding.", TRIALS)
    ketamine_hypersensitivity: StrictBool = _code(
        "Hypersensitivity to ketamine or esketamine.", LABEL
    )
    unstable_cardiovascular_disease: StrictBool = _code(
        "Unstable cardiovascular disease (e.g. arrhythmia, recent myocardial infarction).", TRIALS
    )
    severe_hepatic_impairment: StrictBool = _code("Severe hepatic impairment.", TRIALS)

    def present(self) -> list[str]:
        """The codes answered true."""
        return [code for code, value in self.model_dump().items() if value]


CONTRAINDICATION_CODES = tuple(Contraindications.model_fields)


class BloodPressure(InputModel):
    """A reading taken at the screening, checked as a dosing record's vitals are."""

    systolic: Systolic
    diastolic: Diastolic

    @model_validator(mode="after")
    def _diastolic_below_systolic(self) -> "BloodPressure":
        if self.diastolic >= self.systolic:
            raise ValueError("diastolic must be below systolic")
        return self


class BloodPressureRead(BaseModel):
    systolic: int
    diastolic: int


DECISION = (
    "`pending` records the findings for a prescriber to decide; `cleared` and `not_cleared` "
    "are a prescriber's decision (403 `prescriber_required` for anyone else). A new decision "
    "is a new screening: screenings are never changed."
)
OVERRIDE_REASON = (
    "Why the client is cleared although a contraindication is present: required then (422 "
    "`override_reason_required`), refused otherwise (it would override nothing). One line, "
    "up to 500 characters; details belong in `notes`. Evidence: "
    "/docs/clinical-evidence#contraindications"
)
VALID_UNTIL = (
    "`screened_at` + the clinic's `screening_valid_days` when the screening was recorded. "
    "Evidence: [screening-validity](/docs/clinical-evidence#screening-validity)"
)


class ScreeningCreate(InputModel):
    """Record a medical screening: its findings, and the decision or `pending`."""

    screened_at: InputTimestamp = Field(
        description="When the client was screened: not in the future. The screening counts "
        "for doses from this instant on.",
        examples=["2026-03-01T10:00:00-05:00"],
    )
    contraindications: Contraindications
    blood_pressure: BloodPressure | None = None
    decision: Decision = Field(description=DECISION, examples=["cleared"])
    override_reason: Reason | None = Field(default=None, description=OVERRIDE_REASON)
    notes: LongText | None = None


class ScreeningRead(BaseModel):
    """A screening as recorded; `decided_by` is null while `pending`."""

    id: Id
    client_id: Id
    screened_at: UTCTimestamp
    screened_by: Id
    contraindications: Contraindications
    blood_pressure: BloodPressureRead | None
    decision: Decision = Field(description=DECISION)
    decided_by: Id | None
    override_reason: str | None = Field(description=OVERRIDE_REASON)
    valid_until: UTCTimestamp = Field(description=VALID_UNTIL)
    notes: str | None
    version: int
    created_at: UTCTimestamp


class MedicalClearanceRead(BaseModel):
    """The client's medical clearance as of now (docs/decisions.md, "Medical screening and
    clearance"). Evidence: [dosing-gate](/docs/clinical-evidence#dosing-gate)"""

    model_config = ALWAYS_PRESENT

    status: ClearanceStatus = Field(
        description="`cleared`: the latest decision clears the client and has not run out; "
        "`expired`: it did clear them, until `valid_until`; `not_cleared`: the latest decision "
        "does not clear them; `pending`: screened, never decided; `missing`: never screened. "
        "A pending screening never revokes nor lifts a decision."
    )
    screening_id: Id | None = Field(
        description="The screening that decides the status (for `pending`, the latest one)."
    )
    valid_until: UTCTimestamp | None = Field(
        description="When the clearance ends or ended (`cleared`, `expired`); else null."
    )
    pending_screening_id: Id | None = Field(
        default=None,
        description="A screening recorded after that decision and still awaiting a "
        "prescriber's decision, if any.",
    )
