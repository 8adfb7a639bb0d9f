"""Calendly invitee webhooks: a `t=…,v1=…` signature header and the `{event, payload}` envelope.

A booking is an invitee, so its id is the invitee URI. A reschedule fires two events in either
order: `invitee.canceled` for the old invitee (naming `new_invitee`) and `invitee.created` for the
new one (naming `old_invitee`); each carries the link, so the service can join them in any order.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

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
    event_type_keys,
    load_object,
    secret_key,
    validate,
)
from app.sessions.enums import Location

SIGNATURE_HEADER = "calendly-webhook-signature"
TOLERANCE_SECONDS = 300  # Calendly states none; Stripe's scheme, which this copies, uses 5 minutes
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def verify(secret: str, body: bytes, headers: Mapping[str, str], now: datetime) -> None:
    """Check Calendly-Webhook-Signature: HMAC-SHA256 of `{t}.{body}`, t within 5 minutes of now."""
    sent = headers.get(SIGNATURE_HEADER)
    if sent is None:
        raise SignatureInvalid("the Calendly-Webhook-Signature header is missing")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in sent.split(","):
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1:
        raise SignatureInvalid("the Calendly-Webhook-Signature header needs exactly one t=")
    if not signatures:
        raise SignatureInvalid("the Calendly-Webhook-Signature header has no v1= signature")
    sent_at = timestamps[0]
    if not _UNIX_SECONDS.fullmatch(sent_at):
        raise SignatureInvalid("the Calendly-Webhook-Signature t= is not a Unix time in seconds")
    age = now.timestamp() - int(sent_at)
    if age > TOLERANCE_SECONDS:
        raise SignatureInvalid("the timestamp is more than 5 minutes old")
    if age < -TOLERANCE_SECONDS:
        raise SignatureInvalid("the timestamp is more than 5 minutes in the future")
    signed = sent_at.encode() + b"." + body
    expected = hmac.new(secret_key(secret), signed, hashlib.sha256).hexdigest()
    # Several v1= entries are allowed (a key being rolled); any one match passes.
    matches = [
        hmac.compare_digest(expected, signature.lower())
        for signature in signatures
        if _HEX_SHA256.fullmatch(signature)
    ]
    if not any(matches):
        raise SignatureInvalid("the signature does not match")


class _Head(ProviderModel):
    trigger: Trigger = Field(alias="event")
    created_at: ProviderTime | None = None
    payload: dict[str, Any]


class _Membership(ProviderModel):
    user_email: LooseEmail = None


class _ScheduledEvent(ProviderModel):
    name: EventTypeKey | None = None
    event_type: EventTypeKey | None = None
    start_time: ProviderTime | None = None
    end_time: ProviderTime | None = None
    location: Any = None
    event_memberships: list[_Membership] = Field(default_factory=list)


class _TimedEvent(_ScheduledEvent):
    start_time: ProviderTime
    end_time: ProviderTime


class _Cancellation(ProviderModel):
    reason: LooseReason = None


class _Invitee(ProviderModel):
    uri: BookingId
    email: LooseEmail = None
    name: LooseName = None
    rescheduled: bool = False
    old_invitee: BookingId | None = None
    new_invitee: BookingId | None = None
    scheduled_event: _ScheduledEvent | None = None
    cancellation: _Cancellation | None = None


class _CreatedInvitee(_Invitee):
    scheduled_event: _TimedEvent


class _Envelope(ProviderModel):
    created_at: ProviderTime
    payload: _Invitee


class _CreatedEnvelope(_Envelope):
    payload: _CreatedInvitee


_SUPPORTED: dict[str, tuple[BookingAction, type[_Envelope]]] = {
    # A reschedule's new invitee stays a creation; old_invitee links it to what it replaces.
    "invitee.created": (BookingAction.created, _CreatedEnvelope),
    "invitee.canceled": (BookingAction.cancelled, _Envelope),
}


def parse(body: bytes) -> BookingEvent | IgnoredEvent:
    data = load_object(body)
    head = validate(_Head, data)
    if head.trigger not in _SUPPORTED:
        return IgnoredEvent(trigger=head.trigger, occurred_at=head.created_at)
    action, envelope = _SUPPORTED[head.trigger]
    event = validate(envelope, data)
    invitee = event.payload
    scheduled = invitee.scheduled_event or _ScheduledEvent()
    organizer = scheduled.event_memberships[0] if scheduled.event_memberships else _Membership()
    cancelled = action is BookingAction.cancelled
    return BookingEvent(
        action=action,
        booking_id=invitee.uri,
        previous_booking_id=None if cancelled else invitee.old_invitee,
        next_booking_id=invitee.new_invitee if cancelled and invitee.rescheduled else None,
        occurred_at=event.created_at,
        event_type_keys=event_type_keys(scheduled.event_type, scheduled.name),
        kind=None,
        starts_at=scheduled.start_time,
        ends_at=scheduled.end_time,
        attendee_email=invitee.email,
        attendee_name=invitee.name,
        organizer_email=organizer.user_email,
        location=location_of(scheduled.location),
        cancellation_reason=(
            invitee.cancellation.reason if cancelled and invitee.cancellation else None
        ),
    )


_TELEHEALTH = {
    "zoom",
    "zoom_conference",
    "google_conference",
    "microsoft_teams_conference",
    "webex_conference",
    "gotomeeting",
    "gotomeeting_conference",
    "inbound_call",  # a phone call is remote care too
    "outbound_call",
}


def location_of(value: Any) -> Location | None:
    """scheduled_event.location: `{type, location?, join_url?}`; unknown types say nothing."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if not isinstance(kind, str):
        return None
    if kind == "physical":
        return Location.in_person
    if kind in _TELEHEALTH or (kind == "custom" and value.get("join_url")):
        return Location.telehealth
    return None
