"""The safety flags of a dose and the checks its record must pass, as plain Python.

`app.sessions.dosing.sql` is the flags' twin for filtering in SQL.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from app.errors import Conflict, ValidationFailed
from app.sessions.dosing.policy import DosingPolicy
from app.sessions.dosing.schemas import CONCOMITANT_COLUMNS, Medication
from app.sessions.enums import Route, SessionStatus


class SafetyFlag(StrEnum):
    pre_dose_bp_elevated = "pre_dose_bp_elevated"
    monitoring_under_minimum = "monitoring_under_minimum"
    transport_unconfirmed = "transport_unconfirmed"
    rems_form_due = "rems_form_due"
    rems_monitoring_incomplete = "rems_monitoring_incomplete"
    gate_overridden = "gate_overridden"  # completed by a prescriber despite the dosing gate


class RemsCondition(StrEnum):
    """What the REMS patient-monitoring record of an esketamine dose needs, by name."""

    completed = "completed"  # the dose took place (status completed)
    dosed_at = "dosed_at"
    pre_dose_bp = "pre_dose_bp"  # a blood pressure labelled pre_dose
    bp_30_to_60_min = "bp_30_to_60_min"  # a blood pressure 30-60 min after dosed_at
    discharge_bp = "discharge_bp"  # a blood pressure labelled discharge
    spo2_after_dose = "spo2_after_dose"  # an SpO2 reading after dosed_at
    ready_to_leave_at = "ready_to_leave_at"
    # discharged_at >= max(ready_to_leave_at, dosed_at + the clinic's minimum monitoring)
    discharged_after_monitoring = "discharged_after_monitoring"
    concomitant_medications = "concomitant_medications"  # all four answered


class RemsRecordIncomplete(Conflict):
    code, title = "rems_record_incomplete", "The REMS monitoring record is incomplete"


RECORD_SPAN = timedelta(hours=24)  # vitals and events belong to the day of the dose
RECORD_LEAD = timedelta(hours=2)  # ... and may start this long before it (pre-dose vitals)
TRANSPORT_NOTICE = timedelta(hours=24)  # confirm who drives the client home a day ahead


class DoseRecord(Protocol):
    """The session columns the flags read (ClinicalSession satisfies it)."""

    status: SessionStatus
    starts_at: datetime
    medication: str | None
    dosed_at: datetime | None
    ready_to_leave_at: datetime | None
    discharged_at: datetime | None
    transport_confirmed: bool | None
    rems_form_submitted_at: datetime | None
    pre_dose_systolic_peak: int | None
    pre_dose_diastolic_peak: int | None
    has_bp_30_to_60_min: bool
    has_discharge_bp: bool
    has_spo2_after_dose: bool
    concomitant_benzodiazepines: bool | None
    concomitant_non_benzodiazepine_sedative_hypnotics: bool | None
    concomitant_psychostimulants: bool | None
    concomitant_maois: bool | None
    gate_overridden_at: datetime | None


def rems_form_due_at(dose: DoseRecord, policy: DosingPolicy) -> datetime | None:
    """When the REMS patient-monitoring form is due for a completed esketamine dose."""
    if dose.medication != Medication.esketamine or dose.status is not SessionStatus.completed:
        return None
    return dose.starts_at + policy.rems_form_due


def _discharged_after_monitoring(dose: DoseRecord, policy: DosingPolicy) -> bool:
    """discharged_at >= max(ready_to_leave_at, dosed_at + minimum), over the bounds on record:
    a missing dose or ready time is named by its own condition, so the names say what to fix
    (completeness needs every condition, so it is the same rule)."""
    if dose.discharged_at is None:
        return False
    bounds = [dose.ready_to_leave_at]
    if dose.dosed_at is not None:
        bounds.append(dose.dosed_at + policy.esketamine_min_monitoring)
    return all(dose.discharged_at >= bound for bound in bounds if bound is not None)


def rems_missing(dose: DoseRecord, policy: DosingPolicy) -> list[RemsCondition]:
    """The REMS conditions a dose's record does not meet yet; none for a REMS-complete dose.

    Each is read from a column (the vitals' share is derived at write time), so the rule has
    an SQL twin (`app.sessions.dosing.sql.rems_complete`)."""
    met = {
        RemsCondition.completed: dose.status is SessionStatus.completed,
        RemsCondition.dosed_at: dose.dosed_at is not None,
        # The pre-dose peak exists exactly when a pre-dose blood pressure does.
        RemsCondition.pre_dose_bp: dose.pre_dose_systolic_peak is not None,
        RemsCondition.bp_30_to_60_min: dose.has_bp_30_to_60_min,
        RemsCondition.discharge_bp: dose.has_discharge_bp,
        RemsCondition.spo2_after_dose: dose.has_spo2_after_dose,
        RemsCondition.ready_to_leave_at: dose.ready_to_leave_at is not None,
        RemsCondition.discharged_after_monitoring: _discharged_after_monitoring(dose, policy),
        RemsCondition.concomitant_medications: all(
            getattr(dose, column) is not None for column in CONCOMITANT_COLUMNS.values()
        ),
    }
    return [condition for condition, ok in met.items() if not ok]


def rems_record_missing(dose: DoseRecord, policy: DosingPolicy) -> list[RemsCondition] | None:
    """What an esketamine dose that is scheduled or completed still needs for its REMS record
    (null for any other dose: no REMS record is kept for it)."""
    active = dose.status in (SessionStatus.scheduled, SessionStatus.completed)
    if dose.medication != Medication.esketamine or not active:
        return None
    return rems_missing(dose, policy)


def check_rems_form(dose: DoseRecord, policy: DosingPolicy) -> None:
    """The REMS form of an esketamine dose is marked submitted only on a REMS-complete record,
    as the request leaves it (409 otherwise; the request changes nothing)."""
    if dose.medication != Medication.esketamine:
        return
    missing = rems_missing(dose, policy)
    if missing:
        names = [condition.value for condition in missing]
        raise RemsRecordIncomplete(
            "The REMS patient-monitoring form is marked submitted only for a completed "
            f"esketamine dose with a complete monitoring record; missing: {', '.join(names)}.",
            extra={"missing": names},
        )


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
    completed = dose.status is SessionStatus.completed
    if esketamine and completed and rems_missing(dose, policy):
        flags.append(SafetyFlag.rems_monitoring_incomplete)
    if dose.gate_overridden_at is not None:
        flags.append(SafetyFlag.gate_overridden)
    return flags


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


class RecordedTimes(Protocol):
    """The record's times as stored, which a change is checked against."""

    dosed_at: datetime | None
    ready_to_leave_at: datetime | None
    discharged_at: datetime | None


# The record's times in the order they happen: (earlier, later, may they be equal, why).
TIME_ORDER = (
    (
        "dosed_at",
        "ready_to_leave_at",
        False,
        "The client becomes ready to leave after the dose: ready_to_leave_at must follow dosed_at.",
    ),
    (
        "dosed_at",
        "discharged_at",
        False,
        "The client is discharged after the dose: discharged_at must follow dosed_at.",
    ),
    (
        "ready_to_leave_at",
        "discharged_at",
        True,
        "The client is discharged once ready to leave: discharged_at may not precede "
        "ready_to_leave_at.",
    ),
)
LEAVING_TIMES = ("ready_to_leave_at", "discharged_at")  # after the session starts


def check_record(
    medication: str | None,
    route: Route | None,
    starts_at: datetime,
    changes: Mapping[str, Any],
    now: datetime,
    recorded: RecordedTimes,
) -> None:
    """Rules across fields: esketamine is intranasal; times belong to the day of the dose and
    follow each other (dose, ready to leave, discharge), checked against the recorded times
    a change leaves in place.

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
    for name in LEAVING_TIMES:
        value = changes.get(name)
        if value is None:
            continue
        if value <= starts_at:
            raise ValidationFailed(
                f"{name} must be after the session starts.",
                loc=("body", name),
                kind="invalid_times",
            )
        _within_day(name, value, starts_at, now)
    for earlier, later, may_equal, why in TIME_ORDER:
        if earlier not in changes and later not in changes:
            continue
        first = changes.get(earlier, getattr(recorded, earlier))
        second = changes.get(later, getattr(recorded, later))
        if first is None or second is None or second > first or (may_equal and second == first):
            continue
        raise ValidationFailed(
            why, loc=("body", later if later in changes else earlier), kind="invalid_times"
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
    recorded: Mapping[str, datetime | None],
    starts_at: datetime,
) -> None:
    """A dose whose record is timed (vitals, events, dose, ready-to-leave and discharge
    times; `recorded` maps those names to the times that stay) can move only so far that the
    record still belongs to its day."""
    times = [datetime.fromisoformat(v["taken_at"]) for v in vitals or []]
    times += [datetime.fromisoformat(e["onset_at"]) for e in adverse_events or []]
    times += [at for at in recorded.values() if at is not None]
    leaving = [recorded.get(name) for name in LEAVING_TIMES]
    earliest, latest = starts_at - RECORD_LEAD, starts_at + RECORD_SPAN
    if any(not earliest <= at <= latest for at in times) or any(
        at is not None and at <= starts_at for at in leaving
    ):
        raise ValidationFailed(
            "This dose's clinical record is timed to its current start; the new start would "
            "leave it outside the session. Correct the record first.",
            loc=("body", "starts_at"),
            kind="outside_session",
        )
