"""ORM session + window evaluation -> the kind's read schema."""

from collections.abc import Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any

from app.audit.trail import note_read
from app.sessions.dosing.policy import DosingPolicy
from app.sessions.dosing.rules import rems_form_due_at, rems_record_missing, safety_flags
from app.sessions.dosing.schemas import CONCOMITANT_COLUMNS
from app.sessions.enums import SessionKind
from app.sessions.models import ClinicalSession
from app.sessions.repository import SessionRecord
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

_COLUMNS = tuple(attribute.key for attribute in ClinicalSession.__mapper__.column_attrs)
_column_values = attrgetter(*_COLUMNS)  # one call for all of them, not one each


def _columns(session: ClinicalSession) -> Mapping[str, Any]:
    """Every column of the session by attribute name. A record as the hot reads load it
    (`as_records`) holds them in its own dict already; an ORM entity's are read in one call."""
    if isinstance(session, SessionRecord):
        return session.__dict__
    return dict(zip(_COLUMNS, _column_values(session), strict=True))


def _external_ref(session: ClinicalSession) -> ExternalRef | None:
    if session.external_source is None or session.external_id is None:
        return None
    return ExternalRef(source=session.external_source, id=session.external_id)


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
    # The session's columns go to validation as they are, under the names the read models share
    # with the table (a column a model has no field for is ignored), in one copy with what is
    # not a column, or not as stored, laid over them.
    values = {**_columns(session), "external_ref": _external_ref(session)}
    if session.kind is SessionKind.ketamine:
        assert isinstance(evaluation, DoseIntegration)
        values.update(
            vitals=session.vitals or [],
            adverse_events=session.adverse_events or [],
            concomitant_medications={
                name: values[column] for name, column in CONCOMITANT_COLUMNS.items()
            },
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
        return KetamineSessionRead.model_validate(values)
    if session.kind is SessionKind.integration:
        assert isinstance(evaluation, IntegrationWindow)
        values["window"] = evaluation._asdict()
        return IntegrationSessionRead.model_validate(values)
    values["topics"] = session.topics or []
    return PreparationSessionRead.model_validate(values)
