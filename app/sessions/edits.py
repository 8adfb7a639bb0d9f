"""Who may change what on an existing session: closed sessions, corrections, and the limits
that keep a scheduler's answers independent of the clinical record.

A session that is no longer `scheduled` (completed, cancelled, no-show) is a record of what
happened. The scheduler can change nothing on it. A clinical role may still write what is
documented after the fact (the dosing record, notes, topics) as before. The facts that decide
windows, alerts and FHIR (route, times, clinician, location, the integration link) are
corrected on a completed session only, with a `correction_reason` kept in a
`SessionCorrection` the request's audit row points at; on a cancelled or no-show session they
cannot change (409), since it took no place to correct.

A scheduler may not see clinical fields, so no answer it gets may depend on one: whatever it may
not write is refused from its own fields and the session's visible state alone, before any
clinical rule runs (see `check_scheduler_limits`).
"""

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change, note_read
from app.auth.prescribers import require_prescriber
from app.auth.principal import Principal
from app.common.pagination import PageParams, split_page
from app.common.schemas import InputModel, Page
from app.errors import Forbidden, InvalidTransition, ValidationFailed
from app.sessions import repository
from app.sessions.dosing.rules import RECORD_LEAD
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.models import ClinicalSession, SessionCorrection
from app.sessions.schemas import MAX_SESSION_LENGTH, SessionCorrectionRead
from app.staff.models import Role

# The scheduling facts of a session: changing one on a completed session is a correction.
CORRECTABLE_FIELDS = frozenset(
    {"starts_at", "ends_at", "clinician_id", "location", "route", "ketamine_session_id"}
)


class SessionClosed(Forbidden):
    code, title = "session_closed", "The session is no longer scheduled"


class RouteNeedsClinician(Forbidden):
    code, title = "route_change_needs_clinical_role", "Only a clinical role changes a dose's route"


class DoseUnderWay(Forbidden):
    code, title = "dose_under_way", "Only a clinical role moves a dose that is under way"


class CorrectionReasonRequired(ValidationFailed):
    code, title = "correction_reason_required", "A correction needs a reason"


def _as_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def corrected_values(session: ClinicalSession, changes: dict[str, Any]) -> dict[str, Any]:
    """The scheduling facts `changes` really changes on a closed session, with their values
    before (as JSON); empty for a scheduled session, or when nothing differs (a retry)."""
    if session.status is SessionStatus.scheduled:
        return {}
    return {
        name: _as_json(getattr(session, name))
        for name in sorted(CORRECTABLE_FIELDS & changes.keys())
        if changes[name] != getattr(session, name)
    }


def check_closed(
    principal: Principal,
    session: ClinicalSession,
    previous: dict[str, Any],
    reason: str | None,
) -> None:
    """A scheduler changes nothing on a closed session (403); a clinical role corrects the
    scheduling facts of a completed one only with a reason (422), and those of a cancelled or
    no-show session not at all (409)."""
    if session.status is SessionStatus.scheduled:
        return
    if principal.role is Role.scheduler:
        raise SessionClosed(
            f"This session is {session.status.value}: the scheduler role can no longer change "
            "it. A clinician or admin can correct it."
        )
    if previous and session.status is not SessionStatus.completed:
        # Only what took place is corrected; a cancelled or missed booking keeps the facts it
        # had (book a new session instead), so it can never be moved onto another's time.
        raise InvalidTransition(
            f"The {', '.join(previous)} of a {session.status.value} session cannot change: "
            "only a completed session is corrected. Book a new session instead."
        )
    if previous and reason is None:
        raise CorrectionReasonRequired(
            f"Changing {', '.join(previous)} of a completed session is a correction: send "
            "correction_reason.",
            loc=("body", "correction_reason"),
            kind="missing",
        )


def forbid_clinical_write(principal: Principal, body: InputModel) -> None:
    """Schedulers book and move sessions but never write clinical fields (403)."""
    sent = body.clinical_fields_sent()
    if sent and principal.role is Role.scheduler:
        raise Forbidden(f"The scheduler role cannot write {', '.join(sorted(sent))}.")


# A dose's order: what is given and how much. Writing it is a prescriber's act (docs/decisions.md,
# "Prescribers"); the rest of the dosing record (vitals, times, lot) is documented by any
# clinical role.
ORDER_FIELDS = frozenset({"dose_mg", "medication"})


def forbid_unprescribed_order(principal: Principal, body: InputModel) -> None:
    """Only a prescriber writes `dose_mg` or `medication` (403 `prescriber_required`); sending
    one counts as writing it, even with the value it already has or null."""
    sent = sorted(ORDER_FIELDS & body.model_fields_set)
    if sent:
        require_prescriber(principal, f"write {' or '.join(sent)} (the dose's order)")


def check_writer(principal: Principal, body: InputModel) -> None:
    """Who may write what a session body sends: the scheduler no clinical field (403
    `forbidden`), and only a prescriber the order (403 `prescriber_required`)."""
    forbid_clinical_write(principal, body)
    forbid_unprescribed_order(principal, body)


def check_scheduler_limits(
    principal: Principal,
    session: ClinicalSession,
    changes: dict[str, Any],
    moves: bool,
    now: datetime,
) -> None:
    """What a scheduler may not change on a scheduled dose, decided on visible fields only.

    The route is part of the dose's order, and whether a new route fits depends on the
    medication (esketamine is intranasal), which the scheduler may not see: it is refused
    whatever the medication. A dose's timed record (vitals, events, the dosing, ready-to-leave
    and discharge times) can only exist from RECORD_LEAD before its start (record times are
    never in the future and lie within RECORD_LEAD before the start), so refusing moves from
    then on, for every dose alike, means a scheduler's move never meets that record.
    """
    if principal.role is not Role.scheduler or session.kind is not SessionKind.ketamine:
        return
    if "route" in changes and changes["route"] != session.route:
        raise RouteNeedsClinician(
            "The route of a booked dose is part of its order: a clinician or admin changes it."
        )
    if moves and session.starts_at - RECORD_LEAD <= now:
        raise DoseUnderWay(
            "A scheduler can move a dose until 2 hours before it starts; from then on a "
            "clinician or admin moves it (or cancel it and book again)."
        )


def check_closed_times(session: ClinicalSession, now: datetime) -> None:
    """A corrected completed session keeps its recorded end inside it, and does not move into
    the future."""
    ended = session.ended_at
    if (
        ended is not None
        and not session.starts_at < ended <= session.starts_at + MAX_SESSION_LENGTH
    ):
        raise ValidationFailed(
            "The session's recorded end (ended_at) must stay after its start and within 12 "
            "hours of it.",
            loc=("body", "starts_at"),
            kind="invalid_times",
        )
    if session.starts_at > now:
        raise ValidationFailed(
            "A completed session cannot start in the future.",
            loc=("body", "starts_at"),
            kind="in_the_future",
        )


async def record_correction(
    db: AsyncSession,
    principal: Principal,
    session: ClinicalSession,
    previous: dict[str, Any],
    reason: str,
    now: datetime,
) -> SessionCorrection:
    """Keep the correction and its reason; the audit row of this request names it."""
    correction = SessionCorrection(
        clinic_id=session.clinic_id,
        session_id=session.id,
        corrected_at=now,
        corrected_by=principal.staff_id,
        previous=previous,
        reason=reason,
    )
    db.add(correction)
    await db.flush()
    note_change("session_correction", correction.id, sorted(previous))
    return correction


async def list_corrections(
    db: AsyncSession, session: ClinicalSession, page: PageParams
) -> Page[SessionCorrectionRead]:
    """One page of a session's corrections, oldest first."""
    rows = await repository.corrections(db, session.clinic_id, session.id, page)
    items, cursor = split_page(rows, page, lambda c: (c.corrected_at, c.id))
    for correction in items:
        note_read("session_correction", correction.id)
    return Page[SessionCorrectionRead](
        items=[SessionCorrectionRead.model_validate(c) for c in items], next_cursor=cursor
    )
