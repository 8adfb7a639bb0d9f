"""Session schemas: one core shared by the three kinds, plus each kind's own fields."""

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.common.schemas import (
    ONE_LINE,
    Id,
    InputModel,
    InputTimestamp,
    LongText,
    OutputModel,
    PatchModel,
    UTCTimestamp,
)
from app.sessions.dosing.rules import RemsCondition, SafetyFlag
from app.sessions.dosing.schemas import (
    COMPUTED_FIELDS,
    DOSING_FIELDS,
    REMS_AND_MONITORING_EVIDENCE,
    REMS_RECORD_EVIDENCE,
    AdverseEvent,
    AdverseEventRead,
    ConcomitantMedications,
    ConcomitantMedicationsRead,
    Medication,
    VitalSigns,
    VitalSignsRead,
)
from app.sessions.enums import Location, PreparationTopic, Route, SessionKind, SessionStatus
from app.windows.rules import IntegrationStatus, WindowStatus

MAX_SESSION_LENGTH = timedelta(hours=12)

Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), ONE_LINE
]
LotNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), ONE_LINE]
DoseMg = Annotated[float, Field(gt=0, le=2000, allow_inf_nan=False, examples=[35.0])]
WeightKg = Annotated[float, Field(gt=0, le=500, allow_inf_nan=False, examples=[70.0])]


class ExternalRef(BaseModel):
    """Where a session came from in another system (e.g. a Cal.com booking)."""

    source: Annotated[str, StringConstraints(min_length=1, max_length=50), ONE_LINE] = Field(
        examples=["calcom"]
    )
    id: Annotated[str, StringConstraints(min_length=1, max_length=200), ONE_LINE] = Field(
        examples=["bk_8f2a"]
    )


def check_times(starts_at: datetime, ends_at: datetime) -> None:
    """ends_at after starts_at, and at most 12 hours later."""
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    if ends_at - starts_at > MAX_SESSION_LENGTH:
        raise ValueError("a session lasts at most 12 hours")


CLINICAL = "Clinical: absent for the scheduler role, who may not write it either (403)."
SESSION_CLINICAL_FIELDS = frozenset({"notes", "topics", "dose_mg", "weight_kg"})


class SessionCreate(InputModel):
    clinical_fields = SESSION_CLINICAL_FIELDS

    client_id: uuid.UUID
    clinician_id: uuid.UUID | None = Field(
        default=None,
        description="Who runs the session; defaults to the caller (unless a scheduler).",
    )
    starts_at: InputTimestamp
    ends_at: InputTimestamp = Field(examples=["2026-03-02T10:00:00-05:00"])
    location: Location = Location.in_person
    notes: LongText | None = Field(default=None, description=CLINICAL)
    external_ref: ExternalRef | None = None

    @model_validator(mode="after")
    def _times(self) -> "SessionCreate":
        check_times(self.starts_at, self.ends_at)
        return self


class PreparationSessionCreate(SessionCreate):
    """Book a preparation session."""

    topics: list[PreparationTopic] = Field(default_factory=list, examples=[["intentions"]])


DOSE_CLINICAL_FIELDS = SESSION_CLINICAL_FIELDS | DOSING_FIELDS
Vitals = Annotated[list[VitalSigns], Field(max_length=50, description=CLINICAL)]
AdverseEvents = Annotated[list[AdverseEvent], Field(max_length=20, description=CLINICAL)]


READY_TO_LEAVE = (
    "When sedation, dissociation and respiratory effects had resolved and the client could "
    "have left, as the REMS patient-monitoring form asks. Within the day of the dose, after "
    "the session starts and after dosed_at; discharged_at may not precede it. Asked of "
    "esketamine doses, accepted on any dose."
)
CONCOMITANT = (
    "The REMS form's concomitant-medication answers (true: taking it). A PATCH changes the "
    "answers it names and keeps the others; null clears them all. Asked of esketamine doses, "
    "accepted on any dose."
)
REMS_FORM_SUBMITTED = (
    "When the REMS patient-monitoring form was sent. On an esketamine dose it is set only "
    "once the dose is completed and its monitoring record is REMS-complete (see "
    "`rems_record_missing`), judged on the record as this request leaves it: 409 "
    "`rems_record_incomplete` otherwise, naming the missing conditions."
)
REMS_MISSING = (
    "Esketamine doses that are scheduled or completed: the REMS monitoring-record conditions "
    "not met yet (empty when REMS-complete; a completed dose missing any raises "
    "`rems_monitoring_incomplete`). Null for other doses."
)


def _clinical(text: str, evidence: str) -> str:
    return f"{text} {CLINICAL} {evidence}"


class DosingRecord(BaseModel):
    """The dosing record fields a ketamine session may be written with."""

    medication: Medication | None = Field(
        default=None,
        description="ketamine, or esketamine (intranasal, under the REMS). " + CLINICAL,
    )
    lot_number: LotNumber | None = Field(default=None, description=CLINICAL)
    vitals: Vitals | None = None
    adverse_events: AdverseEvents | None = None
    dosed_at: InputTimestamp | None = Field(
        default=None,
        description="When the drug was given; post-dose monitoring is measured from it "
        "(from starts_at until it is recorded). " + CLINICAL,
    )
    ready_to_leave_at: InputTimestamp | None = Field(
        default=None, description=_clinical(READY_TO_LEAVE, REMS_AND_MONITORING_EVIDENCE)
    )
    discharged_at: InputTimestamp | None = Field(
        default=None,
        description="When the client left; not before ready_to_leave_at. " + CLINICAL,
    )
    transport_confirmed: bool | None = Field(
        default=None, description="Someone is taking the client home. " + CLINICAL
    )
    concomitant_medications: ConcomitantMedications | None = Field(
        default=None, description=_clinical(CONCOMITANT, REMS_RECORD_EVIDENCE)
    )
    rems_form_submitted_at: InputTimestamp | None = Field(
        default=None, description=_clinical(REMS_FORM_SUBMITTED, REMS_RECORD_EVIDENCE)
    )


class KetamineSessionCreate(DosingRecord, SessionCreate):
    """Book a dosing session. The route decides how long its window stays open."""

    clinical_fields = DOSE_CLINICAL_FIELDS

    route: Route
    dose_mg: DoseMg | None = None
    weight_kg: WeightKg | None = None


class IntegrationSessionCreate(SessionCreate):
    """Book an integration session; its window is found from the client's doses."""

    ketamine_session_id: uuid.UUID | None = Field(
        default=None,
        description="Link to a dose explicitly; otherwise the latest dose before it anchors it.",
    )


CORRECTION_REASON = (
    "Why a completed session's route, times, clinician, location or integration link is "
    "corrected: required for such a correction (422 `correction_reason_required`), without "
    "effect otherwise (those of a cancelled or no-show session cannot change: 409 "
    "`invalid_transition`). Kept with the correction, which "
    "the request's audit row names (resource_type `session_correction`); clinical roles read it "
    "at `GET .../{session_id}/corrections`. Staff-entered text: give no more client detail than "
    "the correction needs."
)


class SessionUpdate(PatchModel):
    clinical_fields = SESSION_CLINICAL_FIELDS
    required_fields = frozenset({"starts_at", "ends_at", "clinician_id", "location"})

    starts_at: InputTimestamp | None = None
    ends_at: InputTimestamp | None = None
    clinician_id: uuid.UUID | None = None
    location: Location | None = None
    notes: LongText | None = None
    external_ref: ExternalRef | None = None
    correction_reason: Reason | None = Field(
        default=None, description=CORRECTION_REASON, examples=["Booked under the wrong route"]
    )


class PreparationSessionUpdate(SessionUpdate):
    """Reschedule or edit a preparation session; correct a completed one with a reason."""

    required_fields = SessionUpdate.required_fields | {"topics"}
    topics: list[PreparationTopic] | None = None


class KetamineSessionUpdate(DosingRecord, SessionUpdate):
    """Reschedule, edit, or record the dose: vitals, adverse events,
    discharge, transport and the REMS form."""

    clinical_fields = DOSE_CLINICAL_FIELDS
    required_fields = SessionUpdate.required_fields | {"route"}
    route: Route | None = None
    dose_mg: DoseMg | None = None
    weight_kg: WeightKg | None = None


class IntegrationSessionUpdate(SessionUpdate):
    """Reschedule, edit, link or unlink an integration session; correct a completed one with a
    reason."""

    ketamine_session_id: uuid.UUID | None = None


GATE_EVIDENCE = "Evidence: [dosing-gate](/docs/clinical-evidence#dosing-gate)"
OVERRIDE_REASON = (
    "Ketamine sessions only: complete a dose that fails the dosing gate (no medical "
    "clearance, no treatment consent or no REMS enrollment in force at its start). A "
    "prescriber's act (403 `prescriber_required`); refused when the dose passes the gate (422 "
    "`override_not_needed`). The dose keeps the reason, who and when, and the safety flag "
    "`gate_overridden` for good. " + GATE_EVIDENCE
)


class CompleteBody(InputModel):
    ended_at: InputTimestamp | None = Field(
        default=None,
        description="When it actually ended; a dose's window is measured from this when given.",
    )
    override_reason: Reason | None = Field(
        default=None,
        description=OVERRIDE_REASON,
        examples=["Consent signed on paper; scan to follow"],
    )


class CancelBody(InputModel):
    reason: Reason = Field(examples=["Client unwell; will rebook"])


class DoseIntegrationRead(BaseModel):
    """Whether integration is booked inside this dose's window."""

    status: IntegrationStatus
    window_opens_at: UTCTimestamp | None
    window_closes_at: UTCTimestamp | None
    integration_session_ids: list[Id]


class IntegrationWindowRead(BaseModel):
    """Where this integration session falls relative to its anchoring dose's window."""

    status: WindowStatus
    ketamine_session_id: Id | None
    linked: bool = Field(description="True when the anchor is the explicitly linked dose.")
    hours_after_dose: float | None = Field(
        description="Hours from the end of the dose to the start of this session (may be negative)."
    )
    opens_at: UTCTimestamp | None
    closes_at: UTCTimestamp | None


class SessionRead(OutputModel):
    clinical_fields = SESSION_CLINICAL_FIELDS

    id: Id
    kind: SessionKind
    client_id: Id
    clinician_id: Id
    starts_at: UTCTimestamp
    ends_at: UTCTimestamp
    status: SessionStatus
    ended_at: UTCTimestamp | None
    cancellation_reason: str | None
    location: Location
    notes: str | None = Field(default=None, description=CLINICAL)
    external_ref: ExternalRef | None
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class PreparationSessionRead(SessionRead):
    kind: Literal[SessionKind.preparation] = SessionKind.preparation
    topics: list[PreparationTopic] = Field(default_factory=list, description=CLINICAL)


class GateOverrideRead(BaseModel):
    """A prescriber completed the dose although it failed the dosing gate."""

    reason: str
    overridden_by: Id
    overridden_at: UTCTimestamp
    failed_checks: list[str] = Field(
        description="The gate's refusals at the time, by code: `medical_clearance_required`, "
        "`consent_required`, `rems_enrollment_required`.",
        examples=[["consent_required"]],
    )


class KetamineSessionRead(SessionRead):
    clinical_fields = DOSE_CLINICAL_FIELDS | COMPUTED_FIELDS | {"gate_override"}

    kind: Literal[SessionKind.ketamine] = SessionKind.ketamine
    route: Route
    dose_mg: float | None = Field(default=None, description=CLINICAL)
    weight_kg: float | None = Field(default=None, description=CLINICAL)
    medication: Medication | None = Field(default=None, description=CLINICAL)
    lot_number: str | None = Field(default=None, description=CLINICAL)
    vitals: list[VitalSignsRead] = Field(default_factory=list, description=CLINICAL)
    adverse_events: list[AdverseEventRead] = Field(default_factory=list, description=CLINICAL)
    dosed_at: UTCTimestamp | None = Field(default=None, description=CLINICAL)
    ready_to_leave_at: UTCTimestamp | None = Field(
        default=None, description=_clinical(READY_TO_LEAVE, REMS_AND_MONITORING_EVIDENCE)
    )
    discharged_at: UTCTimestamp | None = Field(default=None, description=CLINICAL)
    transport_confirmed: bool | None = Field(default=None, description=CLINICAL)
    concomitant_medications: ConcomitantMedicationsRead | None = Field(
        default=None, description=_clinical(CONCOMITANT, REMS_RECORD_EVIDENCE)
    )
    rems_form_submitted_at: UTCTimestamp | None = Field(default=None, description=CLINICAL)
    rems_record_missing: list[RemsCondition] | None = Field(
        default=None, description=_clinical(REMS_MISSING, REMS_RECORD_EVIDENCE)
    )
    rems_form_due_at: UTCTimestamp | None = Field(
        default=None,
        description="Completed esketamine doses: when the REMS monitoring form is due. " + CLINICAL,
    )
    safety_flags: list[SafetyFlag] = Field(
        default_factory=list,
        description=_clinical(
            "Computed under the clinic's clinical policy; `rems_monitoring_incomplete` marks a "
            "completed esketamine dose whose REMS monitoring record misses a condition "
            "(`rems_record_missing`).",
            REMS_RECORD_EVIDENCE,
        ),
    )
    gate_override: GateOverrideRead | None = Field(
        default=None,
        description="Set when a prescriber completed the dose despite the dosing gate (it "
        "then carries the safety flag `gate_overridden`). " + CLINICAL + " " + GATE_EVIDENCE,
    )
    integration: DoseIntegrationRead


class IntegrationSessionRead(SessionRead):
    kind: Literal[SessionKind.integration] = SessionKind.integration
    ketamine_session_id: Id | None
    window: IntegrationWindowRead


class SessionCorrectionRead(OutputModel):
    """One correction of a completed session."""

    id: Id
    session_id: Id
    corrected_at: UTCTimestamp
    corrected_by: Id
    previous: dict[str, str | None] = Field(
        description="Each corrected field with its value before the correction (times in UTC).",
        examples=[{"route": "iv"}],
    )
    reason: str


AnySessionRead = Annotated[
    PreparationSessionRead | KetamineSessionRead | IntegrationSessionRead,
    Field(discriminator="kind"),
]
