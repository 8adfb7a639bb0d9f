"""The safety flags as SQL conditions, so list filters run in the database and paginate."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from app.db import epoch_us, to_epoch_us
from app.sessions.dosing.policy import DosingPolicy
from app.sessions.dosing.rules import TRANSPORT_NOTICE, SafetyFlag
from app.sessions.dosing.schemas import CONCOMITANT_COLUMNS, Medication
from app.sessions.enums import SessionStatus


def _us(value: Any) -> int:
    return int(value.total_seconds() * 1_000_000)


def rems_complete(s: Any, policy: DosingPolicy) -> ColumnElement[bool]:
    """The SQL twin of `rules.rems_missing(...) == []` for a completed dose: every part is a
    column, the vitals' share derived at write time. The presence tests come first, so the
    time comparisons never meet a NULL (false AND null is false)."""
    discharged, dosed = epoch_us(s.discharged_at), epoch_us(s.dosed_at)
    return and_(
        s.dosed_at.is_not(None),
        s.pre_dose_systolic_peak.is_not(None),
        s.has_bp_30_to_60_min.is_(True),
        s.has_discharge_bp.is_(True),
        s.has_spo2_after_dose.is_(True),
        s.ready_to_leave_at.is_not(None),
        s.discharged_at.is_not(None),
        discharged >= epoch_us(s.ready_to_leave_at),
        discharged - dosed >= _us(policy.esketamine_min_monitoring),
        *(getattr(s, column).is_not(None) for column in CONCOMITANT_COLUMNS.values()),
    )


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
        minimum_us = _us(policy.esketamine_min_monitoring)
        dosed = func.coalesce(s.dosed_at, s.starts_at)
        monitored_us = epoch_us(s.discharged_at) - epoch_us(dosed)
        return and_(esketamine, s.discharged_at.is_not(None), monitored_us < minimum_us)
    if flag is SafetyFlag.transport_unconfirmed:
        return and_(
            s.status == SessionStatus.scheduled,
            epoch_us(s.starts_at) <= to_epoch_us(now + TRANSPORT_NOTICE),
            func.coalesce(s.transport_confirmed, False).is_(False),
        )
    if flag is SafetyFlag.gate_overridden:
        overridden: ColumnElement[bool] = s.gate_overridden_at.is_not(None)
        return overridden
    completed = s.status == SessionStatus.completed
    if flag is SafetyFlag.rems_monitoring_incomplete:
        return and_(esketamine, completed, not_(rems_complete(s, policy)))
    return and_(esketamine, completed, s.rems_form_submitted_at.is_(None))
