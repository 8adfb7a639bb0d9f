"""Booking chains: filing each provider event under its booking id, order-independently.

Every event only adds facts — "booking B exists with these details", "B was cancelled", "B was
replaced by C" — and facts commute, so any delivery order (and any number of duplicates) ends
in the same chains. The chain's head, the booking nothing replaced, says what the session
should be; `app.inbound.service.reconcile` makes it so.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.inbound import repository
from app.inbound.models import BookingChain, ProviderBooking, SchedulingIntegration
from app.inbound.providers import BookingAction, BookingEvent
from app.sessions.enums import Location, SessionKind


@dataclass(frozen=True)
class BookingDetails:
    """What the provider last said a booking is: the part of an event that describes it."""

    starts_at: datetime
    ends_at: datetime
    event_type_keys: tuple[str, ...]
    kind: SessionKind | None
    attendee_email: str | None
    attendee_name: str | None
    organizer_email: str | None
    location: Location | None

    @classmethod
    def of(cls, event: BookingEvent) -> "BookingDetails | None":
        if event.starts_at is None or event.ends_at is None:
            return None
        return cls(
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            event_type_keys=event.event_type_keys,
            kind=event.kind,
            attendee_email=event.attendee_email,
            attendee_name=event.attendee_name,
            organizer_email=event.organizer_email,
            location=event.location,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "event_type_keys": list(self.event_type_keys),
            "kind": self.kind.value if self.kind else None,
            "attendee_email": self.attendee_email,
            "attendee_name": self.attendee_name,
            "organizer_email": self.organizer_email,
            "location": self.location.value if self.location else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "BookingDetails":
        return cls(
            starts_at=datetime.fromisoformat(data["starts_at"]),
            ends_at=datetime.fromisoformat(data["ends_at"]),
            event_type_keys=tuple(data["event_type_keys"]),
            kind=SessionKind(data["kind"]) if data["kind"] else None,
            attendee_email=data["attendee_email"],
            attendee_name=data["attendee_name"],
            organizer_email=data["organizer_email"],
            location=Location(data["location"]) if data["location"] else None,
        )


@dataclass(frozen=True)
class Filed:
    """The chain an event landed in, and sessions of chains it absorbed (now duplicates)."""

    chain: BookingChain
    absorbed_sessions: list[uuid.UUID]


async def file_event(
    db: AsyncSession, integration: SchedulingIntegration, event: BookingEvent, now: datetime
) -> Filed:
    """Record what `event` says about its bookings and join the chains it links."""
    booking = await _booking(db, integration, event.booking_id, now)
    details = BookingDetails.of(event)
    newer = booking.occurred_at is None or event.occurred_at >= booking.occurred_at
    describes = event.action is not BookingAction.cancelled or booking.details is None
    if details is not None and describes and (newer or booking.details is None):
        booking.details = details.to_json()
        booking.occurred_at = event.occurred_at
    absorbed: list[uuid.UUID] = []
    if event.action is BookingAction.cancelled:
        if event.next_booking_id not in (None, booking.booking_id):
            absorbed += await _link(db, integration, booking, event.next_booking_id, now)
        else:
            booking.cancelled = True
            booking.cancellation_reason = event.cancellation_reason
    if event.previous_booking_id not in (None, booking.booking_id):  # never its own successor
        previous = await _booking(db, integration, event.previous_booking_id, now)
        absorbed += await _link(db, integration, previous, booking.booking_id, now)
    await db.flush()
    chain = await repository.chain(db, booking.chain_id, reload=True)
    return Filed(chain, absorbed)


async def _booking(
    db: AsyncSession, integration: SchedulingIntegration, booking_id: str, now: datetime
) -> ProviderBooking:
    """The booking with this provider id, created in a chain of its own if it is new."""
    booking = await repository.booking(db, integration.id, booking_id)
    if booking is not None:
        return booking
    chain = BookingChain(
        clinic_id=integration.clinic_id, integration_id=integration.id, created_at=now
    )
    db.add(chain)
    await db.flush()
    booking = ProviderBooking(
        clinic_id=integration.clinic_id,
        integration_id=integration.id,
        booking_id=booking_id,
        chain_id=chain.id,
    )
    db.add(booking)
    await db.flush()
    return booking


async def _link(
    db: AsyncSession,
    integration: SchedulingIntegration,
    old: ProviderBooking,
    new_booking_id: str,
    now: datetime,
) -> list[uuid.UUID]:
    """`old` was replaced by `new_booking_id`: one chain from now on."""
    new = await _booking(db, integration, new_booking_id, now)
    old.replaced_by = new.booking_id
    if old.chain_id == new.chain_id:
        return []
    first = await repository.chain(db, old.chain_id)
    second = await repository.chain(db, new.chain_id)
    keep, absorb = sorted((first, second), key=lambda chain: (chain.created_at, str(chain.id)))
    return await _absorb(db, keep, absorb)


async def _absorb(db: AsyncSession, keep: BookingChain, absorb: BookingChain) -> list[uuid.UUID]:
    """Move `absorb`'s bookings and decisions into `keep`; return a session it made redundant."""
    await repository.move_to_chain(db, absorb, keep)
    keep.client_id = keep.client_id or absorb.client_id
    keep.clinician_id = keep.clinician_id or absorb.clinician_id
    keep.kind = keep.kind or absorb.kind
    redundant: list[uuid.UUID] = []
    if keep.session_id is None:
        keep.session_id = absorb.session_id
    elif absorb.session_id is not None:
        redundant.append(absorb.session_id)
    await db.flush()
    await db.delete(absorb)
    await db.flush()
    return redundant
