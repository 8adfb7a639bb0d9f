"""The safety flags as SQL conditions, so list filters run in the database and paginate."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy.sql.elements import ColumnElement

from app.db import epoch_us, to_epoch_us
from app.sessions.dosing.policy import DosingPolicy
from app.sessions.dosing.rules import TRANSPORT_NOTICE, SafetyFlag
from app.sessions.dosing.schemas import Medication
from app.sessions.enums import SessionStatus


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
