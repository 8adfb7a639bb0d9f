"""Unmatched bookings: the human decision a booking needed, and applying it."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change, note_read
from app.auth.principal import Principal
from app.common.pagination import PageParams
from app.errors import Conflict, InvalidTransition, NotFound, invalid_reference
from app.inbound import repository
from app.inbound.models import SchedulingIntegration, UnmatchedBooking, UnmatchedStatus
from app.inbound.repository import UnmatchedFilters
from app.inbound.schemas import ResolveBody
from app.inbound.service.deliveries import settle_review
from app.inbound.service.reconcile import CannotApply, Reconciler
from app.staff import repository as staff_repository
from app.staff.models import Role


class UnmatchedBookingNotFound(NotFound):
    title = "Unmatched booking not found"


class BookingNotApplicable(Conflict):
    code, title = "booking_not_applicable", "The booking still cannot be applied"


async def get_unmatched(
    db: AsyncSession, clinic_id: uuid.UUID, unmatched_id: uuid.UUID
) -> UnmatchedBooking:
    review = await repository.unmatched_booking(db, clinic_id, unmatched_id)
    if review is None:
        raise UnmatchedBookingNotFound(f"No unmatched booking {unmatched_id} in this clinic.")
    note_read("unmatched_booking", review.id)
    return review


async def list_unmatched(
    db: AsyncSession, clinic_id: uuid.UUID, filters: UnmatchedFilters, page: PageParams
) -> Sequence[UnmatchedBooking]:
    reviews = await repository.unmatched_page(db, clinic_id, filters, page)
    for review in reviews[: page.limit]:
        note_read("unmatched_booking", review.id)
    return reviews


def _ensure_open(review: UnmatchedBooking, action: str) -> None:
    if review.status != UnmatchedStatus.open.value:
        raise InvalidTransition(
            f"Only an open unmatched booking can be {action}; this one is {review.status}."
        )


async def _locked(db: AsyncSession, review: UnmatchedBooking, action: str) -> SchedulingIntegration:
    """Hold the integration's row, as the worker does while filing, then check again that the
    review is still open: the worker may have settled or merged it before the lock."""
    integration = await repository.integration_for_update(db, review.integration_id)
    await db.refresh(review)
    _ensure_open(review, action)
    return integration


async def _check_choice(db: AsyncSession, clinic_id: uuid.UUID, body: ResolveBody) -> None:
    if not await repository.has_client(db, clinic_id, body.client_id):
        raise invalid_reference("client_id", "a client")
    if body.clinician_id is not None:
        staff = await staff_repository.get(db, clinic_id, body.clinician_id)
        if staff is None or not staff.active or staff.role is Role.scheduler:
            raise invalid_reference("clinician_id", "an active clinician or admin")


async def resolve(
    db: AsyncSession,
    principal: Principal,
    review: UnmatchedBooking,
    body: ResolveBody,
    now: datetime,
) -> UnmatchedBooking:
    """Apply the booking with the caller's choices; every scheduling rule still holds (409)."""
    _ensure_open(review, "resolved")
    await _check_choice(db, principal.clinic_id, body)
    integration = await _locked(db, review, "resolved")
    chain = await repository.chain_or_none(db, review.chain_id)
    if chain is None:  # joined into another chain meanwhile; its review is the open one
        raise InvalidTransition("The booking was merged into another; refresh and try again.")
    chain.client_id = body.client_id
    chain.clinician_id = body.clinician_id or chain.clinician_id
    chain.kind = body.kind.value if body.kind else chain.kind
    reconciler = Reconciler(db, integration, principal.clinic, now, acting=principal)
    try:
        applied = await reconciler.apply(chain)
    except CannotApply as exc:
        raise exc.error or BookingNotApplicable(exc.detail, extra={"reason": exc.reason}) from exc
    await settle_review(db, chain, applied, now, staff_id=principal.staff_id)
    await db.refresh(review)
    note_change("unmatched_booking", review.id, ["session_id", "status"])
    return review


async def dismiss(
    db: AsyncSession, principal: Principal, review: UnmatchedBooking, now: datetime
) -> UnmatchedBooking:
    """Decide that the booking will not become a session (it stays on record)."""
    _ensure_open(review, "dismissed")
    await _locked(db, review, "dismissed")
    review.status = UnmatchedStatus.dismissed.value
    review.resolved_by = principal.staff_id
    review.resolved_at = now
    await db.flush()
    note_change("unmatched_booking", review.id, ["status"])
    return review
