"""Realistic provider webhook bodies and their signed headers, for the inbound tests.

The shapes follow what Cal.com and Calendly really send (abridged, with the noise a parser must
skip: time zones, intake responses, tracking), so a test that passes here passes on the wire.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

CREATED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
"""Event time when a test does not care; the suite's clock starts here too."""
ORGANIZER_EMAIL = "dr.avery@clinic.example"
ATTENDEE_NAME = "Maya Okafor"
CALENDLY_EVENT_TYPE = "https://api.calendly.com/event_types/ET-INTEGRATION-60"


def _compact(document: dict[str, Any]) -> bytes:
    """The exact bytes that get signed and sent."""
    return json.dumps(document, separators=(",", ":")).encode()


def _iso(value: datetime, timespec: str = "seconds") -> str:
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# --- Cal.com -----------------------------------------------------------------------------------


def calcom_body(
    trigger: str,
    *,
    uid: str,
    start: datetime,
    end: datetime,
    attendee_email: str,
    organizer_email: str = ORGANIZER_EMAIL,
    event_type_id: int | None = 41,
    slug: str = "integration-60",
    reschedule_uid: str | None = None,
    created_at: datetime | None = None,
    cancellation_reason: str | None = None,
    location: str = "inPerson",
    attendee_name: str = ATTENDEE_NAME,
) -> bytes:
    """Cal.com's default `{triggerEvent, createdAt, payload}` envelope."""
    cancelled = trigger == "BOOKING_CANCELLED"
    payload: dict[str, Any] = {
        "type": slug,
        "title": f"Integration session between Dr Avery and {attendee_name}",
        "description": "",
        "additionalNotes": "",
        "customInputs": {},
        "startTime": _iso(start),
        "endTime": _iso(end),
        "organizer": {
            "id": 3,
            "name": "Dr Avery",
            "email": organizer_email,
            "username": "dr-avery",
            "timeZone": "America/Los_Angeles",
            "language": {"locale": "en"},
            "timeFormat": "h:mma",
            "utcOffset": -480,
        },
        "responses": {
            "name": {"label": "your_name", "value": attendee_name},
            "email": {"label": "email_address", "value": attendee_email},
            "notes": {"label": "additional_notes", "value": "Second integration after dose 1"},
        },
        "userFieldsResponses": {},
        "attendees": [
            {
                "email": attendee_email,
                "name": attendee_name,
                "firstName": "",
                "lastName": "",
                "timeZone": "America/Los_Angeles",
                "language": {"locale": "en"},
                "utcOffset": -480,
            }
        ],
        "location": location,
        "destinationCalendar": None,
        "hideCalendarNotes": False,
        "requiresConfirmation": False,
        "eventTypeId": event_type_id,
        "seatsShowAttendees": True,
        "seatsPerTimeSlot": None,
        "uid": uid,
        "appsStatus": [],
        "eventTitle": "Integration 60",
        "eventDescription": None,
        "price": 0,
        "currency": "usd",
        "length": int((end - start).total_seconds() // 60),
        "bookingId": 512,
        "metadata": {},
        "status": "CANCELLED" if cancelled else "ACCEPTED",
        "iCalUID": f"{uid}@Cal.com",
        "iCalSequence": 0,
        "cancellationReason": cancellation_reason,
    }
    if reschedule_uid is not None:
        payload |= {
            "rescheduleUid": reschedule_uid,
            "rescheduleId": 511,
            "rescheduleStartTime": _iso(start),
            "rescheduleEndTime": _iso(end),
            "rescheduledBy": attendee_email,
        }
    if cancelled:
        payload["cancelledBy"] = organizer_email
    return _compact(
        {
            "triggerEvent": trigger,
            "createdAt": _iso(created_at or CREATED_AT, "milliseconds"),
            "payload": payload,
        }
    )


def calcom_headers(secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Cal-Signature-256": _hex_hmac(secret, body),
        "X-Cal-Webhook-Version": "2021-10-20",
    }


# --- Calendly ----------------------------------------------------------------------------------


def _calendly_location(location_type: str) -> dict[str, Any]:
    if location_type == "physical":
        return {
            "type": "physical",
            "location": "1200 NW Everett St, Portland",
            "additional_info": "",
        }
    if location_type.endswith(("_call", "ask_invitee", "custom")):
        return {"type": location_type, "location": "+1 503 555 0142"}
    return {"type": location_type, "status": "pushed", "join_url": "https://video.example/j/8812"}


def calendly_body(
    event: str,
    *,
    invitee_uri: str,
    start: datetime,
    end: datetime,
    email: str,
    event_type_uri: str = CALENDLY_EVENT_TYPE,
    name: str = "Integration 60",
    old_invitee: str | None = None,
    new_invitee: str | None = None,
    rescheduled: bool = False,
    created_at: datetime | None = None,
    organizer_email: str | None = ORGANIZER_EMAIL,
    location_type: str = "physical",
    reason: str | None = None,
    attendee_name: str = ATTENDEE_NAME,
) -> bytes:
    """Calendly's `{event, created_at, created_by, payload}` envelope for one invitee."""
    when = _iso(created_at or CREATED_AT, "microseconds")
    event_uri = invitee_uri.split("/invitees/")[0]
    cancelled = event == "invitee.canceled"
    memberships = (
        []
        if organizer_email is None
        else [
            {
                "user": "https://api.calendly.com/users/AVERY",
                "user_email": organizer_email,
                "user_name": "Dr Avery",
            }
        ]
    )
    payload: dict[str, Any] = {
        "uri": invitee_uri,
        "email": email,
        "name": attendee_name,
        "first_name": None,
        "last_name": None,
        "status": "canceled" if cancelled else "active",
        "timezone": "America/Los_Angeles",
        "event": event_uri,
        "created_at": when,
        "updated_at": when,
        "rescheduled": rescheduled,
        "old_invitee": old_invitee,
        "new_invitee": new_invitee,
        "cancel_url": "https://calendly.com/cancellations/INV",
        "reschedule_url": "https://calendly.com/reschedulings/INV",
        "routing_form_submission": None,
        "payment": None,
        "no_show": None,
        "reconfirmation": None,
        "scheduling_method": None,
        "invitee_scheduled_by": None,
        "text_reminder_number": None,
        "questions_and_answers": [
            {"question": "Anything we should know?", "answer": "Prefer mornings", "position": 0}
        ],
        "tracking": {
            "utm_campaign": None,
            "utm_source": None,
            "utm_medium": None,
            "utm_content": None,
            "utm_term": None,
            "salesforce_uuid": None,
        },
        "scheduled_event": {
            "uri": event_uri,
            "name": name,
            "status": "canceled" if cancelled else "active",
            "start_time": _iso(start, "microseconds"),
            "end_time": _iso(end, "microseconds"),
            "event_type": event_type_uri,
            "location": _calendly_location(location_type),
            "invitees_counter": {"total": 1, "active": 0 if cancelled else 1, "limit": 1},
            "created_at": when,
            "updated_at": when,
            "event_memberships": memberships,
            "event_guests": [],
            "meeting_notes_plain": None,
            "meeting_notes_html": None,
        },
    }
    if cancelled:
        payload["cancellation"] = {
            "canceled_by": attendee_name,
            "reason": reason,
            "canceler_type": "invitee",
            "created_at": when,
        }
    return _compact(
        {
            "created_at": when,
            "created_by": "https://api.calendly.com/users/AVERY",
            "event": event,
            "payload": payload,
        }
    )


def calendly_headers(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    sent_at = str(int(at.timestamp()))
    signature = _hex_hmac(secret, sent_at.encode() + b"." + body)
    return {
        "Content-Type": "application/json",
        "Calendly-Webhook-Signature": f"t={sent_at},v1={signature}",
    }


# --- Standard Webhooks (our own format) --------------------------------------------------------


def standard_body(
    type_: str,
    *,
    booking_id: str,
    start: datetime | None,
    end: datetime | None,
    attendee_email: str | None,
    kind: str | None = None,
    event_type: str | None = None,
    previous_booking_id: str | None = None,
    organizer_email: str | None = None,
    timestamp: datetime | None = None,
    location: str | None = None,
    reason: str | None = None,
    attendee_name: str | None = None,
) -> bytes:
    """`{type, timestamp, data}`; optional fields left out when None, as a sender would."""
    data = {
        "booking_id": booking_id,
        "previous_booking_id": previous_booking_id,
        "kind": kind,
        "event_type": event_type,
        "starts_at": _iso(start) if start else None,
        "ends_at": _iso(end) if end else None,
        "attendee_email": attendee_email,
        "attendee_name": attendee_name,
        "organizer_email": organizer_email,
        "location": location,
        "cancellation_reason": reason,
    }
    return _compact(
        {
            "type": type_,
            "timestamp": _iso(timestamp or CREATED_AT),
            "data": {key: value for key, value in data.items() if value is not None},
        }
    )


def standard_headers(
    secret: str, body: bytes, at: datetime, msg_id: str | None = None
) -> dict[str, str]:
    """webhook-id/-timestamp/-signature; the id defaults to one derived from the body."""
    message_id = msg_id or "msg_" + hashlib.sha256(body).hexdigest()[:24]
    sent_at = at.astimezone(UTC)  # the library reads any datetime as UTC
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, sent_at, body.decode()),
    }
