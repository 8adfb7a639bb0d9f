"""Session rules: who and when, no overlaps, preparation first, and the status machine."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.auth.principal import Principal
from app.clients.models import Client
from app.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PreparationRequired,
    ScheduleConflict,
    ValidationFailed,
    invalid_reference,
)
from app.events.catalogue import EventType
from app.sessions import edits, repository
from app.sessions.dosing.rules import check_move, check_record, check_rems_form
from app.sessions.dosing.schemas import DOSING_FIELDS, stored
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.events import emit_session
from app.sessions.gate import pass_gate, recheck_late_esketamine
from app.sessions.models import ClinicalSession
from app.sessions.schemas import (
    MAX_SESSION_LENGTH,
    IntegrationSessionCreate,
    IntegrationSessionUpdate,
    KetamineSessionCreate,
    SessionCreate,
    SessionUpdate,
    check_times,
)
from app.staff import repository as staff_repository
from app.staff.models import Role

SCHEDULE_FIELDS = frozenset({"starts_at", "ends_at"})
KIND_LABEL = {
    SessionKind.preparation: "preparation session",
    SessionKind.ketamine: "ketamine session",
    SessionKind.integration: "integration session",
}


class SessionNotFound(NotFound):
    title = "Session not found"


class ClientArchived(Conflict):
    code, title = "client_archived", "The client is archived"


async def get_session(
    db: AsyncSession, clinic_id: uuid.UUID, session_id: uuid.UUID, kind: SessionKind
) -> ClinicalSession:
    session = await repository.get(db, clinic_id, session_id, kind)
    if session is None:
        raise SessionNotFound(f"No {KIND_LABEL[kind]} {session_id} in this clinic.")
    return session


async def _schedulable_client(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> Client:
    client = await repository.lock_client(db, clinic_id, client_id)
    if client is None:
        raise invalid_reference("client_id", "a client")
    if client.archived:
        raise ClientArchived("Unarchive the client before scheduling sessions.")
    return client


async def _clinician(
    db: AsyncSession, principal: Principal, clinician_id: uuid.UUID | None
) -> uuid.UUID:
    if clinician_id is None:
        if principal.role is Role.scheduler:
            raise ValidationFailed(
                "clinician_id is required when a scheduler books a session.",
                loc=("body", "clinician_id"),
                kind="missing",
            )
        return principal.staff_id
    staff = await staff_repository.get(db, principal.clinic_id, clinician_id)
    if staff is None or not staff.active or staff.role is Role.scheduler:
        raise invalid_reference("clinician_id", "an active clinician or admin")
    return staff.id


async def _ensure_free(
    db: AsyncSession, session: ClinicalSession, excluding: uuid.UUID | None = None
) -> None:
    other = await repository.find_overlap(
        db, session.clinic_id, session.client_id, session.starts_at, session.ends_at, excluding
    )
    if other is not None:
        raise ScheduleConflict(
            f"It overlaps the client's {KIND_LABEL[other.kind]} {other.id}.",
            extra={"conflicting_session_id": str(other.id)},
        )


async def _ensure_preparation(
    db: AsyncSession,
    principal: Principal,
    dose: ClinicalSession,
    statuses: tuple[SessionStatus, ...],
) -> None:
    if not principal.clinic.require_completed_preparation:
        return
    if not await repository.has_preparation_before(
        db, dose.clinic_id, dose.client_id, dose.starts_at, statuses
    ):
        wanted = "completed" if statuses == (SessionStatus.completed,) else "scheduled or completed"
        raise PreparationRequired(
            f"This clinic requires a {wanted} preparation session before the dose."
        )


async def _ensure_link(
    db: AsyncSession, session: ClinicalSession, ketamine_session_id: uuid.UUID | None
) -> None:
    if ketamine_session_id is None:
        return
    dose = await repository.get(db, session.clinic_id, ketamine_session_id, SessionKind.ketamine)
    if dose is None or dose.client_id != session.client_id:
        raise invalid_reference("ketamine_session_id", "a ketamine session of the same client")


BOOKING_STATUSES = (SessionStatus.scheduled, SessionStatus.completed)


async def create_session(
    db: AsyncSession,
    principal: Principal,
    kind: SessionKind,
    body: SessionCreate,
    now: datetime,
) -> ClinicalSession:
    """Book a session of `kind` after checking every scheduling rule."""
    edits.forbid_unprescribed_order(principal, body)
    await _schedulable_client(db, principal.clinic_id, body.client_id)
    fields: dict[str, Any] = body.model_dump(
        exclude={"external_ref", "clinician_id", *DOSING_FIELDS}
    )
    session = ClinicalSession(
        clinic_id=principal.clinic_id,
        kind=kind,
        status=SessionStatus.scheduled,
        clinician_id=await _clinician(db, principal, body.clinician_id),
        **fields,
    )
    _apply_external_ref(session, body.external_ref)
    _apply_dosing_record(principal, session, body, {}, now)
    await _ensure_free(db, session)
    if isinstance(body, KetamineSessionCreate):
        await _ensure_preparation(db, principal, session, BOOKING_STATUSES)
    if isinstance(body, IntegrationSessionCreate):
        await _ensure_link(db, session, body.ketamine_session_id)
    db.add(session)
    await db.flush()
    note_change("session", session.id, sorted(body.model_fields_set | {"kind", "status"}))
    await emit_session(db, principal, session, EventType.session_scheduled, now)
    return session


def _apply_dosing_record(
    principal: Principal,
    session: ClinicalSession,
    body: SessionCreate | SessionUpdate,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    """Check and store the dosing record fields the body sets (ketamine sessions only);
    they are taken out of `changes`, which holds them as plain dicts."""
    record = {name: getattr(body, name) for name in DOSING_FIELDS & body.model_fields_set}
    for name in record:
        changes.pop(name, None)
    if principal.role is Role.scheduler:
        # Sends no record (403 before), and its moves and route were settled on visible fields
        # (edits.check_scheduler_limits): no clinical rule may shape a scheduler's answer.
        return
    starts_at = changes.get("starts_at", session.starts_at)
    if session.kind is SessionKind.ketamine and starts_at != session.starts_at:
        times = ("dosed_at", "ready_to_leave_at", "discharged_at")
        check_move(
            None if "vitals" in record else session.vitals,
            None if "adverse_events" in record else session.adverse_events,
            {name: getattr(session, name) for name in times if name not in record},
            starts_at,
        )
    if not record and "route" not in changes:
        return
    medication = record.get("medication", session.medication)
    route = changes.get("route", session.route)
    check_record(medication, route, starts_at, record, now, session)
    for name, value in stored(record, session).items():
        setattr(session, name, value)
    if record.get("rems_form_submitted_at") is not None:
        check_rems_form(session, principal.dosing)


def _apply_external_ref(session: ClinicalSession, ref: Any) -> None:
    session.external_source = ref.source if ref is not None else None
    session.external_id = ref.id if ref is not None else None


async def update_session(
    db: AsyncSession,
    principal: Principal,
    session: ClinicalSession,
    body: SessionUpdate,
    now: datetime,
) -> ClinicalSession:
    """Reschedule or edit a scheduled session, document a closed one, or correct a completed
    one; every rule is checked against the result. Who may change what: app/sessions/edits.py."""
    edits.forbid_unprescribed_order(principal, body)
    changes = body.changes()
    reason: str | None = changes.pop("correction_reason", None)
    previous = edits.corrected_values(session, changes)
    edits.check_closed(principal, session, previous, reason)
    moves = bool(
        SCHEDULE_FIELDS & changes.keys()
        and (
            changes.get("starts_at", session.starts_at) != session.starts_at
            or changes.get("ends_at", session.ends_at) != session.ends_at
        )
    )
    edits.check_scheduler_limits(principal, session, changes, moves, now)
    try:
        check_times(
            changes.get("starts_at", session.starts_at), changes.get("ends_at", session.ends_at)
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc), loc=("body", "ends_at"), kind="invalid_times") from exc
    if "clinician_id" in changes:
        changes["clinician_id"] = await _clinician(db, principal, changes["clinician_id"])
    if "external_ref" in changes:
        _apply_external_ref(session, body.external_ref)
        del changes["external_ref"]
    medication_before = session.medication
    _apply_dosing_record(principal, session, body, changes, now)
    await recheck_late_esketamine(db, principal, session, medication_before)
    if isinstance(body, IntegrationSessionUpdate) and "ketamine_session_id" in changes:
        await _ensure_link(db, session, changes["ketamine_session_id"])
    for name, value in changes.items():
        setattr(session, name, value)
    note_change("session", session.id, sorted(body.model_fields_set - {"correction_reason"}))
    if moves:
        await _check_move(db, principal, session, now)
    await db.flush()
    if previous and reason is not None:
        await edits.record_correction(db, principal, session, previous, reason, now)
    if moves:
        await emit_session(db, principal, session, EventType.session_rescheduled, now)
    return session


async def _check_move(
    db: AsyncSession, principal: Principal, session: ClinicalSession, now: datetime
) -> None:
    """The rules a session's new times must meet: a scheduled one, or a completed one being
    corrected (edits.check_closed lets no other status move)."""
    completed = session.status is SessionStatus.completed
    if completed:
        edits.check_closed_times(session, now)
    await repository.lock_client(db, session.clinic_id, session.client_id)
    await _ensure_free(db, session, excluding=session.id)
    if session.kind is SessionKind.ketamine:
        # A dose that took place follows a preparation that took place, not a booked one.
        statuses = (SessionStatus.completed,) if completed else BOOKING_STATUSES
        await _ensure_preparation(db, principal, session, statuses)


async def _ensure_overrun_is_free(
    db: AsyncSession, session: ClinicalSession, ended_at: datetime
) -> None:
    """A session that ran over may not have run into the client's next one."""
    await repository.lock_client(db, session.clinic_id, session.client_id)
    other = await repository.find_overlap(
        db, session.clinic_id, session.client_id, session.ends_at, ended_at, session.id
    )
    if other is not None:
        raise ScheduleConflict(
            f"Ending then would overlap the client's {KIND_LABEL[other.kind]} {other.id}.",
            extra={"conflicting_session_id": str(other.id)},
        )


def _ensure_scheduled(session: ClinicalSession, action: str) -> None:
    if session.status is not SessionStatus.scheduled:
        raise InvalidTransition(
            f"Only a scheduled session can be {action}; this one is {session.status.value}."
        )


def _ensure_started(session: ClinicalSession, now: datetime, action: str) -> None:
    if session.starts_at > now:
        raise InvalidTransition(f"A session that has not started yet cannot be {action}.")


async def complete_session(
    db: AsyncSession,
    principal: Principal,
    session: ClinicalSession,
    ended_at: datetime | None,
    now: datetime,
    override_reason: str | None = None,
) -> ClinicalSession:
    """Mark a session completed, optionally recording when it actually ended. A dose passes
    the preparation rule, then the dosing gate (or a prescriber's `override_reason`)."""
    if override_reason is not None and session.kind is not SessionKind.ketamine:
        raise ValidationFailed(
            "override_reason overrides the dosing gate, which only ketamine sessions pass.",
            loc=("body", "override_reason"),
            kind="override_reason_not_applicable",
        )
    _ensure_scheduled(session, "completed")
    _ensure_started(session, now, "completed")
    if ended_at is not None:
        if not session.starts_at < ended_at <= session.starts_at + MAX_SESSION_LENGTH:
            raise ValidationFailed(
                "ended_at must be after starts_at and within 12 hours of it.",
                loc=("body", "ended_at"),
                kind="invalid_times",
            )
        if ended_at > now:
            raise ValidationFailed(
                "ended_at cannot be in the future.", loc=("body", "ended_at"), kind="in_the_future"
            )
        if ended_at > session.ends_at:
            await _ensure_overrun_is_free(db, session, ended_at)
    if session.kind is SessionKind.ketamine:
        await _ensure_preparation(db, principal, session, (SessionStatus.completed,))
        await pass_gate(db, principal, session, override_reason, now)
    session.status = SessionStatus.completed
    session.ended_at = ended_at
    note_change("session", session.id, ["ended_at", "status"] if ended_at else ["status"])
    await db.flush()
    await emit_session(db, principal, session, EventType.session_completed, now)
    return session


async def cancel_session(
    db: AsyncSession, principal: Principal, session: ClinicalSession, reason: str, now: datetime
) -> ClinicalSession:
    """Cancel a scheduled session; it stays on record with its reason."""
    _ensure_scheduled(session, "cancelled")
    session.status = SessionStatus.cancelled
    session.cancellation_reason = reason
    note_change("session", session.id, ["cancellation_reason", "status"])
    await db.flush()
    await emit_session(db, principal, session, EventType.session_cancelled, now)
    return session


async def mark_no_show(
    db: AsyncSession, principal: Principal, session: ClinicalSession, now: datetime
) -> ClinicalSession:
    """Record that the client did not come."""
    _ensure_scheduled(session, "marked as a no-show")
    _ensure_started(session, now, "marked as a no-show")
    session.status = SessionStatus.no_show
    note_change("session", session.id, ["status"])
    await db.flush()
    await emit_session(db, principal, session, EventType.session_no_show, now)
    return session
