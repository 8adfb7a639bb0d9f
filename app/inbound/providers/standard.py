"""Our documented format for a clinic's own scheduler: Standard Webhooks, `booking.*` bodies.

The `standardwebhooks` library's verify() compares the timestamp with the wall clock, fixed at
5 minutes; the service has a clock of its own (tests set it), so the timestamp is checked here
against `now` and the library is used for what it is good at, the HMAC (through sign()).
"""

import base64
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import StringConstraints, model_validator
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from app.common.schemas import ONE_LINE, InputModel, ShortText
from app.inbound.providers.events import (
    BookingAction,
    BookingEvent,
    BookingId,
    Email,
    EventTypeKey,
    IgnoredEvent,
    ProviderModel,
    ProviderTime,
    SignatureInvalid,
    Trigger,
    event_type_keys,
    load_object,
    validate,
)
from app.sessions.enums import Location, SessionKind

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE_SECONDS = 300  # the reference libraries' fixed tolerance
_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII; it becomes our dedupe key
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def verify(secret: str, body: bytes, headers: Mapping[str, str], now: datetime) -> str:
    """Check the webhook-* headers against `now`; return the webhook-id (the delivery id)."""
    for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        if not headers.get(name):
            raise SignatureInvalid(f"the {name} header is missing")
    message_id, sent_at = headers[ID_HEADER], headers[TIMESTAMP_HEADER]
    if not _MESSAGE_ID.fullmatch(message_id):
        raise SignatureInvalid("the webhook-id header must be 1 to 200 visible ASCII characters")
    if not _UNIX_SECONDS.fullmatch(sent_at):
        raise SignatureInvalid("the webhook-timestamp header is not a Unix time in seconds")
    age = now.timestamp() - int(sent_at)
    if age > TOLERANCE_SECONDS:
        raise SignatureInvalid("the timestamp is more than 5 minutes old")
    if age < -TOLERANCE_SECONDS:
        raise SignatureInvalid("the timestamp is more than 5 minutes in the future")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureInvalid("the body is not UTF-8, so it was not signed as text") from None
    try:
        webhook = Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):  # binascii.Error is a ValueError
        raise SignatureInvalid("the integration's signing secret is not a whsec_ secret") from None
    signed_at = datetime.fromtimestamp(int(sent_at), UTC)  # sign() needs UTC
    expected = base64.b64decode(webhook.sign(message_id, signed_at, text).removeprefix("v1,"))
    if _any_match(expected, headers[SIGNATURE_HEADER]):
        return message_id
    raise SignatureInvalid("the signature does not match")


def _any_match(expected: bytes, header: str) -> bool:
    # Space-delimited `version,base64` entries; two v1 entries while a secret is being rotated.
    matched = False
    for entry in header.split():
        version, comma, signature = entry.partition(",")
        if not comma or "," in signature:
            raise SignatureInvalid("the webhook-signature header is malformed (want v1,<base64>)")
        if version != "v1":
            continue  # v1a (ed25519) and later schemes are not ours to check
        try:
            candidate = base64.b64decode(signature, validate=True)
        except ValueError:
            raise SignatureInvalid("a webhook-signature v1 entry is not base64") from None
        matched |= hmac.compare_digest(expected, candidate)
    return matched


Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), ONE_LINE
]


class _Head(ProviderModel):
    type: Trigger
    timestamp: ProviderTime | None = None
    data: dict[str, Any]


class _Data(InputModel):
    booking_id: BookingId
    previous_booking_id: BookingId | None = None
    kind: SessionKind | None = None
    event_type: EventTypeKey | None = None
    starts_at: ProviderTime | None = None
    ends_at: ProviderTime | None = None
    attendee_email: Email | None = None
    attendee_name: ShortText | None = None
    organizer_email: Email | None = None
    location: Location | None = None
    cancellation_reason: Reason | None = None

    @model_validator(mode="after")
    def _not_its_own_predecessor(self) -> Self:
        if self.previous_booking_id == self.booking_id:
            raise ValueError("previous_booking_id must differ from booking_id")
        return self


class _ScheduledData(_Data):
    starts_at: ProviderTime
    ends_at: ProviderTime
    attendee_email: Email

    @model_validator(mode="after")
    def _kind_named(self) -> Self:
        if self.kind is None and not self.event_type:
            raise ValueError("a booking needs a kind or an event_type to find its kind")
        return self


class _RescheduledData(_ScheduledData):
    previous_booking_id: BookingId


class _Envelope(ProviderModel):
    timestamp: ProviderTime
    data: _Data


class _ScheduledEnvelope(_Envelope):
    data: _ScheduledData


class _RescheduledEnvelope(_Envelope):
    data: _RescheduledData


_SUPPORTED: dict[str, tuple[BookingAction, type[_Envelope]]] = {
    "booking.created": (BookingAction.created, _ScheduledEnvelope),
    "booking.rescheduled": (BookingAction.rescheduled, _RescheduledEnvelope),
    "booking.cancelled": (BookingAction.cancelled, _Envelope),
}


def parse(body: bytes) -> BookingEvent | IgnoredEvent:
    data = load_object(body)
    head = validate(_Head, data)
    if head.type not in _SUPPORTED:
        return IgnoredEvent(trigger=head.type, occurred_at=head.timestamp)
    action, envelope = _SUPPORTED[head.type]
    event = validate(envelope, data)
    booking = event.data
    cancelled = action is BookingAction.cancelled
    return BookingEvent(
        action=action,
        booking_id=booking.booking_id,
        # Like Calendly's old_invitee, a creation may name the booking it replaces.
        previous_booking_id=None if cancelled else booking.previous_booking_id,
        next_booking_id=None,
        occurred_at=event.timestamp,
        event_type_keys=event_type_keys(booking.event_type),
        kind=booking.kind,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        attendee_email=booking.attendee_email,
        attendee_name=booking.attendee_name,
        organizer_email=booking.organizer_email,
        location=booking.location,
        cancellation_reason=booking.cancellation_reason if cancelled else None,
    )
