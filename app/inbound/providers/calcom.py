"""Cal.com booking webhooks: a hex HMAC of the raw body, and the `{triggerEvent, payload}` envelope.

Cal.com sends no timestamp and no delivery id, so nothing here stops a replay: the service's
state-based idempotency has to. A reschedule creates a new uid and names the old one in
`rescheduleUid`; a host's "request reschedule" arrives as a plain cancellation.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, StrictInt

from app.inbound.providers.events import (
    BookingAction,
    BookingEvent,
    BookingId,
    EventTypeKey,
    IgnoredEvent,
    LooseEmail,
    LooseName,
    LooseReason,
    ProviderModel,
    ProviderTime,
    SignatureInvalid,
    Trigger,
    body_error,
    event_type_keys,
    load_object,
    secret_key,
    validate,
)
from app.sessions.enums import Location

SIGNATURE_HEADER = "x-cal-signature-256"
NO_SECRET = "no-secret-provided"  # noqa: S105 - what Cal.com sends when the webhook has no secret
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def verify(secret: str, body: bytes, headers: Mapping[str, str], now: datetime) -> None:
    """Check X-Cal-Signature-256 (`now` is unused: Cal.com signs no timestamp)."""
    sent = headers.get(SIGNATURE_HEADER)
    if sent is None:
        raise SignatureInvalid("the X-Cal-Signature-256 header is missing")
    sent = sent.strip()
    if sent == NO_SECRET:
        raise SignatureInvalid(
            "the Cal.com webhook has no secret set; give it this integration's secret in Cal.com"
        )
    if not _HEX_SHA256.fullmatch(sent):
        raise SignatureInvalid("the X-Cal-Signature-256 header is not a hex HMAC-SHA256")
    expected = hmac.new(secret_key(secret), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sent.lower()):
        raise SignatureInvalid("the signature does not match")


class _Head(ProviderModel):
    trigger: Trigger = Field(alias="triggerEvent")
    created_at: ProviderTime | None = Field(default=None, alias="createdAt")
    payload: dict[str, Any]


class _Person(ProviderModel):
    email: LooseEmail = None
    name: LooseName = None


class _Booking(ProviderModel):
    uid: BookingId
    event_type_id: StrictInt | None = Field(default=None, alias="eventTypeId")
    slug: EventTypeKey | None = Field(default=None, alias="type")
    starts_at: ProviderTime | None = Field(default=None, alias="startTime")
    ends_at: ProviderTime | None = Field(default=None, alias="endTime")
    organizer: _Person | None = None
    attendees: list[_Person] = Field(default_factory=list)
    location: Any = None
    reschedule_uid: BookingId | None = Field(default=None, alias="rescheduleUid")
    cancellation_reason: LooseReason = Field(default=None, alias="cancellationReason")


class _Scheduled(_Booking):
    starts_at: ProviderTime = Field(alias="startTime")
    ends_at: ProviderTime = Field(alias="endTime")


class _Rescheduled(_Scheduled):
    reschedule_uid: BookingId = Field(alias="rescheduleUid")


class _Envelope(ProviderModel):
    created_at: ProviderTime = Field(alias="createdAt")
    payload: _Booking


class _ScheduledEnvelope(_Envelope):
    payload: _Scheduled


class _RescheduledEnvelope(_Envelope):
    payload: _Rescheduled


_SUPPORTED: dict[str, tuple[BookingAction, type[_Envelope]]] = {
    "BOOKING_CREATED": (BookingAction.created, _ScheduledEnvelope),
    "BOOKING_RESCHEDULED": (BookingAction.rescheduled, _RescheduledEnvelope),
    # Cal.com cancellations carry their times; a host's requestReschedule is a cancellation too.
    "BOOKING_CANCELLED": (BookingAction.cancelled, _Envelope),
}


def parse(body: bytes) -> BookingEvent | IgnoredEvent:
    data = load_object(body)
    if "triggerEvent" not in data:
        # A custom payloadTemplate (or the Zapier app) replaces the whole envelope.
        raise body_error(
            "Field required: send Cal.com's default payload, not a custom payload template",
            "missing",
            "triggerEvent",
        )
    head = validate(_Head, data)
    if head.trigger not in _SUPPORTED:
        return IgnoredEvent(trigger=head.trigger, occurred_at=head.created_at)
    action, envelope = _SUPPORTED[head.trigger]
    event = validate(envelope, data)
    booking = event.payload
    attendee = booking.attendees[0] if booking.attendees else _Person()
    event_type_id = str(booking.event_type_id) if booking.event_type_id is not None else None
    return BookingEvent(
        action=action,
        booking_id=booking.uid,
        previous_booking_id=booking.reschedule_uid if action is BookingAction.rescheduled else None,
        next_booking_id=None,
        occurred_at=event.created_at,
        event_type_keys=event_type_keys(event_type_id, booking.slug),
        kind=None,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        attendee_email=attendee.email,
        attendee_name=attendee.name,
        organizer_email=booking.organizer.email if booking.organizer else None,
        location=location_of(booking.location),
        cancellation_reason=(
            booking.cancellation_reason if action is BookingAction.cancelled else None
        ),
    )


_IN_PERSON = {"inperson", "attendeeinperson"}
_REMOTE = {"link", "conferencing", "phone", "userphone"}
_PHONE_NUMBER = re.compile(r"\+?[0-9][0-9 ().\-]{5,29}")


def location_of(value: Any) -> Location | None:
    """Cal.com's `location`: a location type, a meeting URL, a phone number or an address."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    lowered = value.lower()
    if lowered in _IN_PERSON:
        return Location.in_person
    if (
        lowered in _REMOTE
        or lowered.startswith(("integrations:", "http://", "https://"))
        or _PHONE_NUMBER.fullmatch(value)
    ):
        return Location.telehealth  # video, or a phone call: either way not in the room
    if lowered == "somewhereelse":
        return None
    return Location.in_person  # free text is the organizer's (or attendee's) address
