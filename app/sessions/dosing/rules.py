"""The safety flags of a dose and the checks its record must pass, as plain Python.

`app.sessions.dosing.sql` is the flags' twin for filtering in SQL.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from app.errors import ValidationFailed
from app.sessions.dosing.policy import DosingPolicy
from app.sessions.dosing.schemas import Medication
from app.sessions.enums import Route, SessionStatus


class SafetyFlag(StrEnum):
    pre_dose_bp_elevated = "pre_dose_bp_elevated"
    monitoring_under_minimum = "monitoring_under_minimum"
    transport_unconfirmed = "transport_unconfirmed"
    rems_form_due = "rems_form_due"


RECORD_SPAN = timedelta(hours=24)  # vitals and events belong to the day of the dose
RECORD_LEAD = timedelta(hours=2)  # ... and may start this long before it (pre-dose vitals)
TRANSPORT_NOTICE = timedelta(hours=24)  # confirm who drives the client home a day ahead


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
