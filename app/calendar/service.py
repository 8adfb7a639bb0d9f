"""Issuing and revoking feed tokens (one live token per staff member) and assembling a feed."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change, note_read
from app.auth.principal import Principal
from app.calendar import repository
from app.calendar.ics import SessionEntry, WindowEntry, build_feed, initials
from app.calendar.models import CalendarFeedToken
from app.common.tokens import LAST_USED_RESOLUTION, TokenFormat
from app.errors import Conflict, Forbidden, NotFound
from app.sessions.enums import ANCHORING_STATUSES, SessionKind
from app.sessions.models import ClinicalSession
from app.staff.models import Role, Staff
from app.staff.service import StaffNotFound
from app.windows.rules import DoseIntegration, IntegrationStatus
from app.windows.service import evaluate_all

# `kapcal_<prefix>_<secret>`: its own scheme, so an API key never opens a feed nor a feed token
# the API. Feed tokens travel in URLs, so they are never logged (see app.ops.logging).
FEED_TOKEN = TokenFormat("kapcal")
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=180)


class CalendarTokenNotFound(NotFound):
    title = "Calendar token not found"


class FeedNotFound(NotFound):
    """One answer for every bad feed URL, so a guess learns nothing about which part was wrong."""

    title = "Calendar feed not found"

    def __init__(self) -> None:
        super().__init__("No calendar feed at this address; ask for a new feed link.")


class StaffInactive(Conflict):
    code, title = "staff_inactive", "The staff member is inactive"


def feed_path(staff_id: uuid.UUID) -> str:
    return f"/api/v1/staff/{staff_id}/calendar.ics"


async def staff_for_token_change(
    db: AsyncSession, principal: Principal, staff_id: uuid.UUID
) -> Staff:
    """The staff member whose token the caller may manage: an admin's any, anyone's own."""
    staff = await repository.staff_for_update(db, principal.clinic_id, staff_id)
    if staff is None:
        raise StaffNotFound(f"No staff member {staff_id} in this clinic.")
    if principal.role is not Role.admin and principal.staff_id != staff.id:
        raise Forbidden("Only an admin can manage another staff member's calendar token.")
    return staff


async def _revoke_live(db: AsyncSession, staff: Staff, now: datetime) -> int:
    revoked = 0
    for token in await repository.live_tokens(db, staff):
        token.revoked_at = now
        note_change("calendar_feed_token", token.id, ["revoked_at"])
        revoked += 1
    return revoked


async def issue_token(
    db: AsyncSession, principal: Principal, staff: Staff, now: datetime
) -> tuple[CalendarFeedToken, str]:
    """A new feed token for `staff`, revoking the live one; returns the row and the plaintext."""
    if not staff.active:
        raise StaffInactive("An inactive staff member cannot have a calendar feed.")
    await _revoke_live(db, staff, now)
    generated = FEED_TOKEN.generate()
    token = CalendarFeedToken(
        clinic_id=staff.clinic_id,
        staff_id=staff.id,
        prefix=generated.prefix,
        secret_hash=generated.secret_hash,
        created_at=now,
        created_by=principal.staff_id,
    )
    db.add(token)
    await db.flush()
    note_change("calendar_feed_token", token.id, ["created"])
    return token, generated.plaintext


async def revoke_token(db: AsyncSession, staff: Staff, now: datetime) -> None:
    """Stop the staff member's feed; 404 when there is no live token."""
    if not await _revoke_live(db, staff, now):
        raise CalendarTokenNotFound(f"Staff member {staff.id} has no live calendar token.")
    await db.flush()


async def record_token_use(db: AsyncSession, token_id: uuid.UUID, now: datetime) -> None:
    """Set the token's `last_used_at` in the request's transaction, just before commit, unless
    a concurrent request already did within LAST_USED_RESOLUTION."""
    await repository.record_token_use(db, token_id, now, now - LAST_USED_RESOLUTION)


def _entry(session: ClinicalSession, first_name: str, last_name: str) -> SessionEntry:
    return SessionEntry(
        id=session.id,
        kind=session.kind,
        status=session.status,
        location=session.location,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        updated_at=session.updated_at,
        version=session.version,
        initials=initials(first_name, last_name),
    )


async def feed_document(
    db: AsyncSession, principal: Principal, staff: Staff, now: datetime
) -> bytes:
    """The staff member's sessions from FEED_PAST ago to FEED_AHEAD on, and the integration
    window of each scheduled or completed dose among them, as iCalendar."""
    rows = await repository.feed_sessions(db, staff, now - FEED_PAST, now + FEED_AHEAD)
    entries = {session.id: _entry(session, first, last) for session, first, last in rows}
    doses = [
        session
        for session, _, _ in rows
        if session.kind is SessionKind.ketamine and session.status in ANCHORING_STATUSES
    ]
    evaluations = await evaluate_all(db, principal.clinic_id, doses, principal.policy, now)
    windows = [
        WindowEntry(
            entries[dose_id],
            evaluation.window_opens_at,
            evaluation.window_closes_at,
            evaluation.status,
        )
        for dose_id, evaluation in evaluations.items()
        if isinstance(evaluation, DoseIntegration)
        and evaluation.status is not IntegrationStatus.not_applicable
        and evaluation.window_opens_at is not None
        and evaluation.window_closes_at is not None
    ]
    for session_id in entries:
        note_read("session", session_id)
    return build_feed(f"KAP Journey — {staff.name}", entries.values(), windows, now)
