"""Assembling journeys and the worklist from sessions and the window rule."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_read
from app.auth.principal import Principal
from app.clients.models import ClientStage
from app.clients.service import known_client
from app.journeys import repository
from app.journeys.schemas import Alert, AlertCode, IntegrationWorklist, Journey
from app.safety_reviews.service import open_reviews
from app.sessions import repository as session_repository
from app.sessions.dosing.policy import DosingPolicy
from app.sessions.dosing.rules import SafetyFlag, rems_missing
from app.sessions.enums import ANCHORING_STATUSES, SessionKind, SessionStatus
from app.sessions.gate import GateCheck, scheduled_doses_failing
from app.sessions.models import ClinicalSession
from app.sessions.read_models import SessionReadModel, to_read
from app.sessions.schemas import IntegrationSessionRead, KetamineSessionRead
from app.staff.models import Role
from app.windows.repository import ClientFacts
from app.windows.rules import (
    DoseIntegration,
    IntegrationStatus,
    IntegrationWindow,
    WindowStatus,
    client_stage,
    dose_facts,
    integration_facts,
)
from app.windows.service import Evaluation, evaluate, evaluate_all, integration_windows

T = TypeVar("T")


def _facts(sessions: Sequence[ClinicalSession]) -> ClientFacts:
    facts = ClientFacts()
    for session in sessions:
        if session.kind is SessionKind.ketamine:
            facts.doses.append(dose_facts(session))
        elif session.kind is SessionKind.integration:
            facts.integrations.append(integration_facts(session))
    return facts


def _iso(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "?"


def outside_window_detail(window: IntegrationWindow) -> str:
    """Why a booked integration session is outside its window, as a person would say it."""
    if window.status is WindowStatus.before_window:
        return (
            "This integration session starts before its dose's window opens "
            f"at {_iso(window.opens_at)}."
        )
    if window.status is WindowStatus.after_window:
        return (
            "This integration session starts after its dose's window closed "
            f"at {_iso(window.closes_at)}."
        )
    return "This integration session has no ketamine session before it, so no window to be in."


def alerts_for(session: ClinicalSession, evaluation: Evaluation) -> list[Alert]:
    """The alerts one evaluated session raises."""
    if isinstance(evaluation, DoseIntegration):
        if evaluation.status is IntegrationStatus.unbooked:
            return [
                Alert(
                    code=AlertCode.integration_unbooked,
                    session_id=session.id,
                    detail="No integration session is booked in this dose's window, which "
                    f"closes {_iso(evaluation.window_closes_at)}.",
                )
            ]
        if evaluation.status is IntegrationStatus.missed:
            return [
                Alert(
                    code=AlertCode.integration_missed,
                    session_id=session.id,
                    detail=f"This dose's window closed {_iso(evaluation.window_closes_at)} "
                    "with no integration session in it.",
                )
            ]
    if (
        isinstance(evaluation, IntegrationWindow)
        and session.status is SessionStatus.scheduled
        and evaluation.status is not WindowStatus.in_window
    ):
        return [
            Alert(
                code=AlertCode.integration_outside_window,
                session_id=session.id,
                detail=outside_window_detail(evaluation),
            )
        ]
    return []


async def journey(
    db: AsyncSession, principal: Principal, client_id: uuid.UUID, now: datetime
) -> Journey:
    """A client's whole journey: two queries whatever its length. Each integration is evaluated
    once, the clinic's policies are built once and each dose's safety flags computed once."""
    await known_client(db, principal, client_id)
    note_read("client", client_id)
    sessions = await session_repository.for_client(db, principal.clinic_id, client_id)
    facts = _facts(sessions)
    policy, dosing = principal.policy, principal.dosing
    # The stage from the sessions loaded anyway, not from the 27-parameter SQL expression that
    # GET /clients/{id} and the `stage` filter use (tests/windows: both agree with the oracle).
    anchoring = any(s.status in ANCHORING_STATUSES for s in sessions)
    stage = ClientStage(client_stage(facts.doses, anchoring, policy, now))
    windows = integration_windows(facts, policy)
    anchors = {id_: window.ketamine_session_id for id_, window in windows.items()}
    evaluated = [(s, evaluate(s, facts, policy, now, windows, anchors)) for s in sessions]
    reads = [to_read(s, e, dosing, now) for s, e in evaluated]
    alerts = [alert for s, e in evaluated for alert in alerts_for(s, e)]
    if principal.role is not Role.scheduler:  # clinical alerts are for clinical roles
        alerts += _safety_alerts(sessions, reads, dosing)
        alerts += await _gate_alerts(db, principal, client_id, sessions)
        alerts += await _clinical_alerts(db, principal, client_id)
    return Journey(client_id=client_id, stage=stage, sessions=reads, alerts=alerts)


SAFETY_DETAIL = {
    SafetyFlag.pre_dose_bp_elevated: "A pre-dose blood pressure is above the clinic's threshold.",
    SafetyFlag.monitoring_under_minimum: "Discharged sooner after esketamine than the clinic's "
    "minimum monitoring time.",
    SafetyFlag.transport_unconfirmed: "No one is confirmed to take the client home.",
    SafetyFlag.rems_form_due: "The REMS patient-monitoring form has not been submitted",
    SafetyFlag.rems_monitoring_incomplete: "The esketamine monitoring record does not meet the "
    "REMS yet",
    SafetyFlag.gate_overridden: "Completed by a prescriber's override of the dosing gate",
}
# Each detail takes the dose's start as {when}.
GATE_ALERT = {
    GateCheck.medical_clearance_required: (
        AlertCode.medical_clearance_missing,
        "No medical clearance will be in force when this dose starts ({when}): a prescriber "
        "needs to record a cleared screening before then.",
    ),
    GateCheck.consent_required: (
        AlertCode.consent_missing,
        "No KAP treatment consent (kap_treatment) will be in force when this dose starts "
        "({when}): record the client's signed consent before then.",
    ),
    GateCheck.rems_enrollment_required: (
        AlertCode.rems_enrollment_missing,
        "No esketamine REMS enrollment (esketamine_rems_enrollment) will be in force when this "
        "esketamine dose starts ({when}): enroll the client in the REMS before then.",
    ),
}


def _safety_alerts(
    sessions: Sequence[ClinicalSession], reads: Sequence[SessionReadModel], policy: DosingPolicy
) -> list[Alert]:
    """One alert per safety flag of a dose, read from the flags its read model already holds."""
    alerts = []
    for dose, read in zip(sessions, reads, strict=True):
        if not isinstance(read, KetamineSessionRead):
            continue
        for flag in read.safety_flags:
            detail = SAFETY_DETAIL[flag]
            if flag is SafetyFlag.rems_form_due:
                detail += f" (due {_iso(read.rems_form_due_at)})."
            if flag is SafetyFlag.rems_monitoring_incomplete:
                missing = ", ".join(condition.value for condition in rems_missing(dose, policy))
                detail += f" (missing: {missing})."
            if flag is SafetyFlag.gate_overridden:
                checks = ", ".join(dose.gate_override_checks or [])
                detail += f" ({checks}; see gate_override)."
            alerts.append(Alert(code=AlertCode(flag.value), session_id=dose.id, detail=detail))
    return alerts


async def _gate_alerts(
    db: AsyncSession,
    principal: Principal,
    client_id: uuid.UUID,
    sessions: Sequence[ClinicalSession],
) -> list[Alert]:
    """One alert per check a scheduled dose would fail at its start, so staff act before the
    day (the gate never refuses a booking)."""
    alerts = []
    for found in await scheduled_doses_failing(db, principal, client_id, sessions):
        for check in found.failed:
            code, detail = GATE_ALERT[check]
            detail = detail.format(when=_iso(found.dose.starts_at))
            alerts.append(Alert(code=code, session_id=found.dose.id, detail=detail))
    return alerts


async def _clinical_alerts(
    db: AsyncSession, principal: Principal, client_id: uuid.UUID
) -> list[Alert]:
    """One `self_harm_item_positive` per open safety review: a later PHQ-9 with item 9 at 0
    leaves it, only resolving the review clears it."""
    alerts = []
    for review in await open_reviews(db, principal.clinic_id, client_id):
        note_read("safety_review", review.id)
        note_read("assessment", review.assessment_id)
        alerts.append(
            Alert(
                code=AlertCode.self_harm_item_positive,
                session_id=review.session_id,
                assessment_id=review.assessment_id,
                safety_review_id=review.id,
                detail=f"The PHQ-9 of {_iso(review.administered_at)} has item 9 (thoughts of "
                "self-harm) above 0 and its safety review is open: review the client's safety "
                f"plan, then resolve it (POST /api/v1/safety-reviews/{review.id}/resolve).",
            )
        )
    return alerts


async def worklist(
    db: AsyncSession,
    principal: Principal,
    now: datetime,
    clinician_id: uuid.UUID | None,
    limit: int,
) -> IntegrationWorklist:
    """Unbooked windows and outside-window bookings, each list capped at `limit`."""
    policy, dosing = principal.policy, principal.dosing
    await repository.use_generic_plans(db)
    doses = await repository.unbooked_doses(
        db, principal.clinic_id, policy, now, clinician_id, limit
    )
    outside = await repository.outside_window_sessions(
        db, principal.clinic_id, policy, clinician_id, limit
    )
    evaluations = await evaluate_all(db, principal.clinic_id, [*doses, *outside], policy, now)
    return IntegrationWorklist(
        unbooked=[
            _as(KetamineSessionRead, to_read(s, evaluations[s.id], dosing, now)) for s in doses
        ],
        outside_window=[
            _as(IntegrationSessionRead, to_read(s, evaluations[s.id], dosing, now)) for s in outside
        ],
    )


def _as(model: type[T], value: object) -> T:
    assert isinstance(value, model)
    return value
