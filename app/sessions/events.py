"""The session events: scheduling facts and the window evaluation, never clinical fields."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.events.catalogue import EventType
from app.events.service import emit
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.windows.rules import DoseIntegration, IntegrationWindow, WindowStatus
from app.windows.service import evaluate_all


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def session_data(session: ClinicalSession, evaluation: object) -> dict[str, Any]:
    """Scheduling facts of a session and its window evaluation; no clinical fields."""
    data: dict[str, Any] = {
        "session_id": str(session.id),
        "client_id": str(session.client_id),
        "clinician_id": str(session.clinician_id),
        "kind": session.kind.value,
        "status": session.status.value,
        "starts_at": _iso(session.starts_at),
        "ends_at": _iso(session.ends_at),
        "version": session.version,
    }
    if isinstance(evaluation, DoseIntegration):
        data["route"] = session.route.value if session.route else None
        data["integration"] = {
            "status": evaluation.status.value,
            "window_opens_at": _iso(evaluation.window_opens_at),
            "window_closes_at": _iso(evaluation.window_closes_at),
        }
    if isinstance(evaluation, IntegrationWindow):
        data["ketamine_session_id"] = (
            str(session.ketamine_session_id) if session.ketamine_session_id else None
        )
        data["window"] = {
            "status": evaluation.status.value,
            "ketamine_session_id": str(evaluation.ketamine_session_id)
            if evaluation.ketamine_session_id
            else None,
            "linked": evaluation.linked,
            "opens_at": _iso(evaluation.opens_at),
            "closes_at": _iso(evaluation.closes_at),
        }
    return data


async def emit_session(
    db: AsyncSession,
    principal: Principal,
    session: ClinicalSession,
    event_type: EventType,
    now: datetime,
) -> None:
    """A session event, plus integration_session.outside_window when a booking misses its window."""
    evaluation = (await evaluate_all(db, principal.clinic_id, [session], principal.policy, now))[
        session.id
    ]
    data = session_data(session, evaluation)
    await emit(db, principal.clinic_id, event_type, data, now)
    moved = event_type in (EventType.session_scheduled, EventType.session_rescheduled)
    if (
        moved
        and session.kind is SessionKind.integration
        and session.status is SessionStatus.scheduled
        and isinstance(evaluation, IntegrationWindow)
        and evaluation.status is not WindowStatus.in_window
    ):
        await emit(db, principal.clinic_id, EventType.integration_outside_window, data, now)
