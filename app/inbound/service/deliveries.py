"""Receiving a provider's delivery (verify, store, acknowledge) and applying it later.

The route only verifies and stores, so a provider is answered fast and a stored delivery
survives anything after it; the worker files and applies it (`process`).
"""

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.common.crypto import SecretBox
from app.errors import AppError, NotFound
from app.inbound import repository
from app.inbound.models import (
    BookingChain,
    InboundDelivery,
    InboundStatus,
    ProviderBooking,
    SchedulingIntegration,
    UnmatchedBooking,
    UnmatchedStatus,
)
from app.inbound.providers import (
    BookingAction,
    BookingEvent,
    IgnoredEvent,
    PayloadInvalid,
    Provider,
    SignatureInvalid,
    parse,
    verify,
)
from app.inbound.service.chains import BookingDetails, file_event
from app.inbound.service.reconcile import Applied, CannotApply, Reconciler
from app.unit_of_work import savepoint

MAX_DEDUPE_KEY = 200
# A cancellation of a booking we have never seen may be the tail of a reschedule whose
# delivery is late (a provider retrying); waiting this long lets that delivery link it to
# the session it moves, instead of booking and cancelling a stand-in session for it.
OVERTAKEN_CANCEL_GRACE = timedelta(minutes=10)


class InboundIntegrationNotFound(NotFound):
    title = "Scheduling integration not found"


class IntegrationGone(AppError):
    status, code, title = 410, "integration_deleted", "The scheduling integration was deleted"


class SignatureRejected(AppError):
    status, code, title = 401, "invalid_signature", "The signature does not verify"


class PayloadRejected(AppError):
    status, code, title = 422, "validation_error", "The delivery is not valid"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        detail = "; ".join(str(error.get("msg", "")) for error in errors[:3]) or self.title
        super().__init__(detail, extra={"errors": errors})


async def integration_for_delivery(
    db: AsyncSession, integration_id: uuid.UUID
) -> SchedulingIntegration:
    integration = await repository.integration_by_id(db, integration_id)
    if integration is None:
        raise InboundIntegrationNotFound(f"No scheduling integration {integration_id}.")
    if integration.deleted_at is not None:
        raise IntegrationGone("This integration was deleted; remove the webhook at the provider.")
    return integration


def _dedupe_key(delivery_id: str | None, body: bytes) -> str:
    if delivery_id and len(delivery_id) <= MAX_DEDUPE_KEY - 3:
        return f"id:{delivery_id}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


async def receive(
    db: AsyncSession,
    integration: SchedulingIntegration,
    body: bytes,
    headers: Mapping[str, str],
    box: SecretBox,
    now: datetime,
) -> tuple[InboundDelivery, bool]:
    """Verify the raw body, then store it unless it was stored before; (delivery, duplicate)."""
    provider = Provider(integration.provider)
    try:
        delivery_id = verify(provider, box.open(integration.secret_ciphertext), body, headers, now)
    except SignatureInvalid as exc:
        raise SignatureRejected(str(exc)) from exc
    try:
        event = parse(provider, body)
    except PayloadInvalid as exc:
        raise PayloadRejected(exc.errors) from exc
    key = _dedupe_key(delivery_id, body)
    ignored = isinstance(event, IgnoredEvent)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "clinic_id": integration.clinic_id,
        "integration_id": integration.id,
        "dedupe_key": key,
        "trigger": _trigger(event)[:80],
        "booking_id": None if isinstance(event, IgnoredEvent) else event.booking_id,
        "occurred_at": event.occurred_at,
        "body_ciphertext": box.seal_bytes(body),
        "received_at": now,
        "status": (InboundStatus.ignored if ignored else InboundStatus.pending).value,
        "outcome": f"{_trigger(event)} is not acted on" if ignored else None,
        "processed_at": now if ignored else None,
        "next_attempt_at": now,
        "attempt_count": 0,
    }
    delivery, inserted = await repository.stored_delivery(db, values)
    return delivery, not inserted


def _trigger(event: BookingEvent | IgnoredEvent) -> str:
    if isinstance(event, IgnoredEvent):
        return event.trigger
    return event.action.value


@dataclass(frozen=True)
class Processed:
    status: InboundStatus
    outcome: str
    session_id: uuid.UUID | None
    retry_at: datetime | None = None  # with status pending: apply again then


async def process(
    db: AsyncSession, delivery: InboundDelivery, box: SecretBox, now: datetime
) -> Processed:
    """File the delivery's event into its chain and apply the chain, in the caller's
    transaction. A booking that breaks a rule becomes (or updates) an unmatched booking."""
    integration = await repository.integration_for_update(db, delivery.integration_id)
    event = parse(Provider(integration.provider), box.open_bytes(delivery.body_ciphertext))
    if isinstance(event, IgnoredEvent):  # stored as ignored on receipt; never pending
        return Processed(InboundStatus.ignored, f"{event.trigger} is not acted on", None)
    clinic = await repository.clinic(db, integration.clinic_id)
    unseen = await repository.booking(db, integration.id, event.booking_id) is None
    filed = await file_event(db, integration, event, now)
    reconciler = Reconciler(db, integration, clinic, now)
    await reconciler.retire_duplicates(filed.chain, filed.absorbed_sessions)
    if filed.chain.session_id is None and await repository.was_dismissed(db, filed.chain):
        return Processed(InboundStatus.applied, "dismissed by staff earlier: not booked", None)
    retry_at = delivery.received_at + OVERTAKEN_CANCEL_GRACE
    if unseen and _cancels_alone(event, filed.chain) and now < retry_at:
        outcome = "a cancellation of a booking not seen yet: waiting for its reschedule history"
        return Processed(InboundStatus.pending, outcome, None, retry_at)
    try:
        async with savepoint(db):
            applied = await reconciler.apply(filed.chain)
    except CannotApply as exc:
        await hold_for_review(db, filed.chain, exc, now)
        return Processed(InboundStatus.unmatched, f"{exc.reason}: {exc.detail}"[:300], None)
    await settle_review(db, filed.chain, applied, now, staff_id=None)
    return Processed(InboundStatus.applied, applied.summary, applied.session_id)


def _cancels_alone(event: BookingEvent, chain: BookingChain) -> bool:
    return (
        event.action is BookingAction.cancelled
        and event.next_booking_id is None
        and chain.session_id is None
    )


async def hold_for_review(
    db: AsyncSession, chain: BookingChain, problem: CannotApply, now: datetime
) -> UnmatchedBooking:
    """Open an unmatched booking for the chain, or bring its open one up to date."""
    head = await repository.chain_head(db, chain)
    if head is None or head.details is None:
        raise RuntimeError("only a described booking can fail to apply")
    reviews = await repository.open_reviews(db, chain)
    review = reviews[0] if reviews else None
    for merged in reviews[1:]:  # chains that were joined each had one
        merged.status = UnmatchedStatus.withdrawn.value
    if review is None:
        review = UnmatchedBooking(
            clinic_id=chain.clinic_id, integration_id=chain.integration_id, chain_id=chain.id
        )
        db.add(review)
    review.reason = problem.reason[:40]
    review.detail = problem.detail[:500]
    _describe(review, chain, head)
    review.session_id = chain.session_id
    await db.flush()
    note_change("unmatched_booking", review.id, ["detail", "reason", "status"])
    for merged in reviews[1:]:
        note_change("unmatched_booking", merged.id, ["status"])
    return review


def _describe(review: UnmatchedBooking, chain: BookingChain, head: ProviderBooking) -> None:
    """Show the booking as the provider last described it."""
    review.booking_id = head.booking_id
    if head.details is None:
        return
    details = BookingDetails.from_json(head.details)
    review.kind = details.kind.value if details.kind else chain.kind
    review.event_type = details.event_type_keys[0][:200] if details.event_type_keys else None
    review.starts_at = details.starts_at
    review.ends_at = details.ends_at
    review.attendee_email = details.attendee_email
    review.attendee_name = details.attendee_name
    review.organizer_email = details.organizer_email


async def settle_review(
    db: AsyncSession,
    chain: BookingChain,
    applied: Applied,
    now: datetime,
    staff_id: uuid.UUID | None,
) -> None:
    """A chain that now applies closes its open unmatched booking: resolved when it has a live
    session, withdrawn when the provider cancelled it first."""
    head = await repository.chain_head(db, chain)
    cancelled = head is not None and head.cancelled
    if applied.session_id is None and not cancelled:
        return  # still waiting for the booking that replaces this one
    for review in await repository.open_reviews(db, chain):
        if head is not None:
            _describe(review, chain, head)
        review.status = (UnmatchedStatus.withdrawn if cancelled else UnmatchedStatus.resolved).value
        review.session_id = applied.session_id
        review.resolved_at = now
        review.resolved_by = staff_id
        note_change("unmatched_booking", review.id, ["session_id", "status"])
    await db.flush()
