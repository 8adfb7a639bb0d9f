"""The dosing record of a ketamine session and the safety flags computed from it.

Flags follow the clinic's thresholds (clinical policy) and are computed, never stored, so a
changed threshold applies to every session at once; the SQL twin (`flag_condition`) lets list
filters run in the database. Only the highest pre-dose blood pressure is kept beside the vitals
timeline, so the filter needs no JSON search.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import and_, func, or_
from sqlalchemy.sql.elements import ColumnElement

from app.common.schemas import InputModel, InputTimestamp, LongText, UTCTimestamp
from app.db import epoch_us, to_epoch_us
from app.errors import ValidationFailed
from app.sessions.enums import Route, SessionStatus


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


class SafetyFlag(StrEnum):
    pre_dose_bp_elevated = "pre_dose_bp_elevated"
    monitoring_under_minimum = "monitoring_under_minimum"
    transport_unconfirmed = "transport_unconfirmed"
    rems_form_due = "rems_form_due"


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
RECORD_SPAN = timedelta(hours=24)  # vitals and events belong to the day of the dose
RECORD_LEAD = timedelta(hours=2)  # ... and may start this long before it (pre-dose vitals)


@dataclass(frozen=True)
class DosingPolicy:
    """The clinic's safety thresholds, read once per request."""

    pre_dose_systolic_max: int = 140
    pre_dose_diastolic_max: int = 90
    esketamine_min_monitoring: timedelta = timedelta(minutes=120)
    rems_form_due: timedelta = timedelta(days=7)

    @classmethod
    def from_clinic(cls, clinic: "DosingColumns") -> "DosingPolicy":
        return cls(
            pre_dose_systolic_max=clinic.pre_dose_systolic_max,
            pre_dose_diastolic_max=clinic.pre_dose_diastolic_max,
            esketamine_min_monitoring=timedelta(minutes=clinic.esketamine_min_monitoring_minutes),
            rems_form_due=timedelta(days=clinic.rems_form_due_days),
        )


class DosingColumns(Protocol):
    pre_dose_systolic_max: int
    pre_dose_diastolic_max: int
    esketamine_min_monitoring_minutes: int
    rems_form_due_days: int


class DoseRecord(Protocol):
    """The session columns the flags read (ClinicalSession satisfies it)."""

    status: SessionStatus
    starts_at: datetime
    medication: str | None
    dosed_at: datetime | None
    discharged_at: datetime | None
    transport_confirmed: bool | None
    rems_form_submitted_at: datetime | None
    pre_dose_systolic_peak: int | None
    pre_dose_diastolic_peak: int | None


TRANSPORT_NOTICE = timedelta(hours=24)  # confirm who drives the client home a day ahead


def rems_form_due_at(dose: DoseRecord, policy: DosingPolicy) -> datetime | None:
    """When the REMS patient-monitoring form is due for a completed esketamine dose."""
    if dose.medication != Medication.esketamine or dose.status is not SessionStatus.completed:
        return None
    return dose.starts_at + policy.rems_form_due


def safety_flags(dose: DoseRecord, policy: DosingPolicy, now: datetime) -> list[SafetyFlag]:
    """The flags a dose raises under the clinic's thresholds (the Python twin of the SQL).

    Transport is asked of a scheduled dose from a day before it starts; once the dose is
    completed the flag is history, not something to act on.
    """
    flags = []
    systolic, diastolic = dose.pre_dose_systolic_peak, dose.pre_dose_diastolic_peak
    if (systolic is not None and systolic > policy.pre_dose_systolic_max) or (
        diastolic is not None and diastolic > policy.pre_dose_diastolic_max
    ):
        flags.append(SafetyFlag.pre_dose_bp_elevated)
    esketamine = dose.medication == Medication.esketamine
    if (
        esketamine
        and dose.discharged_at is not None
        and dose.discharged_at - (dose.dosed_at or dose.starts_at)
        < policy.esketamine_min_monitoring
    ):
        flags.append(SafetyFlag.monitoring_under_minimum)
    imminent = dose.starts_at <= now + TRANSPORT_NOTICE
    if dose.status is SessionStatus.scheduled and imminent and not dose.transport_confirmed:
        flags.append(SafetyFlag.transport_unconfirmed)
    if rems_form_due_at(dose, policy) is not None and dose.rems_form_submitted_at is None:
        flags.append(SafetyFlag.rems_form_due)
    return flags


def flag_condition(
    s: Any, flag: SafetyFlag, policy: DosingPolicy, now: datetime
) -> ColumnElement[bool]:
    """`flag` as a WHERE condition on the sessions table (the SQL twin of safety_flags)."""
    esketamine = s.medication == Medication.esketamine.value
    if flag is SafetyFlag.pre_dose_bp_elevated:
        return or_(
            s.pre_dose_systolic_peak > policy.pre_dose_systolic_max,
            s.pre_dose_diastolic_peak > policy.pre_dose_diastolic_max,
        )
    if flag is SafetyFlag.monitoring_under_minimum:
        minimum_us = int(policy.esketamine_min_monitoring.total_seconds() * 1_000_000)
        dosed = func.coalesce(s.dosed_at, s.starts_at)
        monitored_us = epoch_us(s.discharged_at) - epoch_us(dosed)
        return and_(esketamine, s.discharged_at.is_not(None), monitored_us < minimum_us)
    if flag is SafetyFlag.transport_unconfirmed:
        return and_(
            s.status == SessionStatus.scheduled,
            epoch_us(s.starts_at) <= to_epoch_us(now + TRANSPORT_NOTICE),
            func.coalesce(s.transport_confirmed, False).is_(False),
        )
    return and_(esketamine, s.status == SessionStatus.completed, s.rems_form_submitted_at.is_(None))


def _within_day(name: str, value: datetime, starts_at: datetime, now: datetime) -> None:
    if not starts_at - RECORD_LEAD <= value <= starts_at + RECORD_SPAN:
        raise ValidationFailed(
            f"{name} must fall between 2 hours before the session and 24 hours after it starts.",
            loc=("body", name.split("[")[0]),
            kind="outside_session",
        )
    if value > now:
        raise ValidationFailed(
            f"{name} cannot be in the future.",
            loc=("body", name.split("[")[0]),
            kind="in_the_future",
        )


def check_record(
    medication: str | None,
    route: Route | None,
    starts_at: datetime,
    changes: Mapping[str, Any],
    now: datetime,
    *,
    recorded_dosed_at: datetime | None = None,
    recorded_discharged_at: datetime | None = None,
) -> None:
    """Rules across fields: esketamine is intranasal; times belong to the day of the dose.

    Only clinical roles reach these rules: their answers name clinical facts, so a scheduler's
    request is settled on its own fields first (app/sessions/edits.py)."""
    if medication == Medication.esketamine and route is not Route.intranasal:
        raise ValidationFailed(
            "Esketamine is given intranasally: set route to intranasal.",
            loc=("body", "route"),
            kind="route_mismatch",
        )
    for index, vital in enumerate(changes.get("vitals") or []):
        _within_day(f"vitals[{index}].taken_at", vital.taken_at, starts_at, now)
    for index, event in enumerate(changes.get("adverse_events") or []):
        _within_day(f"adverse_events[{index}].onset_at", event.onset_at, starts_at, now)
    if changes.get("dosed_at") is not None:
        _within_day("dosed_at", changes["dosed_at"], starts_at, now)
    discharged = changes.get("discharged_at")
    if discharged is not None:
        if discharged <= starts_at:
            raise ValidationFailed(
                "discharged_at must be after the session starts.",
                loc=("body", "discharged_at"),
                kind="invalid_times",
            )
        _within_day("discharged_at", discharged, starts_at, now)
    dosed = changes.get("dosed_at", recorded_dosed_at)
    discharged = changes.get("discharged_at", recorded_discharged_at)
    if dosed is not None and discharged is not None and discharged <= dosed:
        sent = "discharged_at" if "discharged_at" in changes else "dosed_at"
        raise ValidationFailed(
            "The client is discharged after the dose: discharged_at must follow dosed_at.",
            loc=("body", sent),
            kind="invalid_times",
        )
    submitted = changes.get("rems_form_submitted_at")
    if submitted is not None and (submitted < starts_at or submitted > now):
        raise ValidationFailed(
            "rems_form_submitted_at must lie between the session's start and now.",
            loc=("body", "rems_form_submitted_at"),
            kind="invalid_times",
        )


def check_move(
    vitals: Iterable[Mapping[str, Any]] | None,
    adverse_events: Iterable[Mapping[str, Any]] | None,
    dosed_at: datetime | None,
    discharged_at: datetime | None,
    starts_at: datetime,
) -> None:
    """A dose whose record is timed (vitals, events, discharge; stored as JSON) can move only
    so far that the record still belongs to its day."""
    times = [datetime.fromisoformat(v["taken_at"]) for v in vitals or []]
    times += [datetime.fromisoformat(e["onset_at"]) for e in adverse_events or []]
    times += [at for at in (dosed_at, discharged_at) if at is not None]
    earliest, latest = starts_at - RECORD_LEAD, starts_at + RECORD_SPAN
    if any(not earliest <= at <= latest for at in times) or (
        discharged_at is not None and discharged_at <= starts_at
    ):
        raise ValidationFailed(
            "This dose's clinical record is timed to its current start; the new start would "
            "leave it outside the session. Correct the record first.",
            loc=("body", "starts_at"),
            kind="outside_session",
        )


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
