"""ORM session + window evaluation -> the kind's read schema."""

from datetime import datetime
from operator import attrgetter
from typing import Any

from app.audit.trail import note_read
from app.sessions.dosing.policy import DosingPolicy
from app.sessions.dosing.rules import rems_form_due_at, rems_record_missing, safety_flags
from app.sessions.dosing.schemas import CONCOMITANT_COLUMNS
from app.sessions.enums import SessionKind
from app.sessions.models import ClinicalSession
from app.sessions.schemas import (
    ExternalRef,
    GateOverrideRead,
    IntegrationSessionRead,
    KetamineSessionRead,
    PreparationSessionRead,
)
from app.windows.rules import DoseIntegration, IntegrationWindow
from app.windows.service import Evaluation

SessionReadModel = PreparationSessionRead | KetamineSessionRead | IntegrationSessionRead

CORE_FIELDS = (
    "id",
    "client_id",
    "clinician_id",
    "starts_at",
    "ends_at",
    "status",
    "ended_at",
    "cancellation_reason",
    "location",
    "notes",
    "version",
    "created_at",
    "updated_at",
)


_core_values = attrgetter(*CORE_FIELDS)  # one call for all of them, not one each


def _core(session: ClinicalSession) -> dict[str, Any]:
    core = dict(zip(CORE_FIELDS, _core_values(session), strict=True))
    core["external_ref"] = (
        ExternalRef(source=session.external_source, id=session.external_id)
        if session.external_source is not None and session.external_id is not None
        else None
    )
    return core


def _gate_override(session: ClinicalSession) -> GateOverrideRead | None:
    if session.gate_overridden_at is None or session.gate_overridden_by is None:
        return None
    return GateOverrideRead(
        reason=session.gate_override_reason or "",
        overridden_by=session.gate_overridden_by,
        overridden_at=session.gate_overridden_at,
        failed_checks=session.gate_override_checks or [],
    )


def to_read(
    session: ClinicalSession, evaluation: Evaluation, dosing: DosingPolicy, now: datetime
) -> SessionReadModel:
    """The read schema for a session of any kind, with its window evaluation (and, for a dose,
    its safety flags under the clinic's thresholds)."""
    note_read("session", session.id)
    core = _core(session)
    if session.kind is SessionKind.ketamine:
        assert isinstance(evaluation, DoseIntegration)
        return KetamineSessionRead(
            **core,
            route=session.route,
            dose_mg=session.dose_mg,
            weight_kg=session.weight_kg,
            medication=session.medication,
            lot_number=session.lot_number,
            vitals=session.vitals or [],
            adverse_events=session.adverse_events or [],
            dosed_at=session.dosed_at,
            ready_to_leave_at=session.ready_to_leave_at,
            discharged_at=session.discharged_at,
            transport_confirmed=session.transport_confirmed,
            concomitant_medications={
                name: getattr(session, column) for name, column in CONCOMITANT_COLUMNS.items()
            },
            rems_form_submitted_at=session.rems_form_submitted_at,
            rems_form_due_at=rems_form_due_at(session, dosing),
            rems_record_missing=rems_record_missing(session, dosing),
            safety_flags=safety_flags(session, dosing, now),
            gate_override=_gate_override(session),
            integration={
                "status": evaluation.status,
                "window_opens_at": evaluation.window_opens_at,
                "window_closes_at": evaluation.window_closes_at,
                "integration_session_ids": evaluation.integration_session_ids,
            },
        )
    if session.kind is SessionKind.integration:
        assert isinstance(evaluation, IntegrationWindow)
        return IntegrationSessionRead(
            **core,
            ketamine_session_id=session.ketamine_session_id,
            window=evaluation._asdict(),
        )
    return PreparationSessionRead(**core, topics=session.topics or [])
