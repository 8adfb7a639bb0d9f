"""The rules every provider's webhooks share, one parametrized test per rule: a signed creation
verifies and parses into one BookingEvent, a forged or altered body does not match, malformed
signature headers and bookings are refused, other triggers are ignored, locations are read, and
signatures older or newer than five minutes are refused (where the provider signs a time).

Pure functions, no database, no app: every failure a provider (or a forger) can cause must end in
SignatureInvalid or PayloadInvalid, never in a 500. What only one provider does is tested beside
it: test_calcom_payloads.py, test_calendly_payloads.py, test_standard_payloads.py.
"""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.inbound.providers import (
    BookingAction,
    BookingEvent,
    IgnoredEvent,
    Provider,
    SignatureInvalid,
    parse,
    verify,
)
from app.sessions.enums import Location, SessionKind
from tests.inbound.payloads import (
    ATTENDEE_NAME,
    CALENDLY_EVENT_TYPE,
    CREATED_AT,
    ORGANIZER_EMAIL,
    calcom_headers,
    calendly_headers,
    standard_headers,
)
from tests.inbound.provider_support import (
    CAL_SECRET,
    CALENDLY_SECRET,
    END,
    INVITEE,
    NORMALIZED_EMAIL,
    NOW,
    OTHER_STANDARD_SECRET,
    STANDARD_SECRET,
    START,
    calcom_event,
    calendly_event,
    edited,
    locs,
    payload_errors,
    standard_event,
)

Change = Callable[[dict[str, Any]], object]
SECRETS = {
    Provider.calcom: CAL_SECRET,
    Provider.calendly: CALENDLY_SECRET,
    Provider.standard: STANDARD_SECRET,
}
SIGNATURE_HEADER = {
    Provider.calcom: "X-Cal-Signature-256",
    Provider.calendly: "Calendly-Webhook-Signature",
    Provider.standard: "webhook-signature",
}
EVENTS = {
    Provider.calcom: calcom_event,
    Provider.calendly: calendly_event,
    Provider.standard: standard_event,
}


def signed(
    provider: Provider, body: bytes, secret: str | None = None, at: datetime = NOW
) -> dict[str, str]:
    """The headers the provider sends with `body`, signed with `secret` (its own by default)."""
    key = SECRETS[provider] if secret is None else secret
    if provider is Provider.calcom:
        return calcom_headers(key, body)
    if provider is Provider.calendly:
        return calendly_headers(key, body, at)
    return standard_headers(key, body, at, msg_id="msg_2KWPBgLlAfxdpx2")


def created(**differences: Any) -> BookingEvent:
    """The BookingEvent of each provider's default creation, but for what it says differently."""
    common: dict[str, Any] = {
        "action": BookingAction.created,
        "previous_booking_id": None,
        "next_booking_id": None,
        "occurred_at": CREATED_AT,
        "kind": None,
        "starts_at": START,
        "ends_at": END,
        "attendee_email": NORMALIZED_EMAIL,
        "attendee_name": ATTENDEE_NAME,
        "organizer_email": ORGANIZER_EMAIL,
        "location": Location.in_person,
        "cancellation_reason": None,
    }
    return BookingEvent(**(common | differences))


CREATIONS = [
    (
        Provider.calcom,
        calcom_event(),
        None,
        created(booking_id="bk_1a2b", event_type_keys=("41", "integration-60")),
    ),
    (
        Provider.calendly,
        calendly_event(),
        None,
        created(booking_id=INVITEE, event_type_keys=(CALENDLY_EVENT_TYPE, "Integration 60")),
    ),
    (
        Provider.standard,
        standard_event(
            organizer_email=" Dr.Avery@Clinic.Example",
            location="telehealth",
            event_type="integration-60",
            attendee_name="Maya Okafor",
        ),
        "msg_2KWPBgLlAfxdpx2",  # Standard Webhooks name the delivery; it keys deduplication
        created(
            booking_id="appt-991",
            event_type_keys=("integration-60",),
            kind=SessionKind.integration,
            location=Location.telehealth,
        ),
    ),
]


@pytest.mark.parametrize(
    ("provider", "body", "delivery_id", "event"), CREATIONS, ids=[c[0].value for c in CREATIONS]
)
def test_a_signed_creation_verifies_and_parses(
    provider: Provider, body: bytes, delivery_id: str | None, event: BookingEvent
) -> None:
    # NOW is a fixed instant, not the wall clock: a library's own verify() would refuse it.
    assert verify(provider, SECRETS[provider], body, signed(provider, body), NOW) == delivery_id
    assert parse(provider, body) == event


@pytest.mark.parametrize(
    ("provider", "other_secret", "edit"),
    [
        (Provider.calcom, "some-other-secret", (b"bk_1a2b", b"bk_1a2c")),
        (Provider.calendly, "some-other-key", (b"INV1", b"INV9")),
        (Provider.standard, OTHER_STANDARD_SECRET, (b"appt-991", b"appt-992")),
    ],
    ids=["calcom", "calendly", "standard"],
)
def test_a_wrong_secret_or_an_altered_body_does_not_match(
    provider: Provider, other_secret: str, edit: tuple[bytes, bytes]
) -> None:
    secret, body = SECRETS[provider], EVENTS[provider]()
    genuine = signed(provider, body)
    forged = signed(provider, body, other_secret)
    altered = body.replace(*edit, 1)

    for sent, headers in [(body, forged), (altered, genuine)]:
        with pytest.raises(SignatureInvalid, match="does not match") as caught:
            verify(provider, secret, sent, headers, NOW)
        assert secret.removeprefix("whsec_") not in str(caught.value)
        digest = re.split("v1[,=]", genuine[SIGNATURE_HEADER[provider]])[-1]
        assert digest not in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "value", "reason"),
    [
        (Provider.calcom, None, "header is missing"),
        (Provider.calcom, "no-secret-provided", "has no secret set"),
        (Provider.calcom, "zz" * 32, "not a hex HMAC-SHA256"),
        (Provider.calcom, "ab" * 31, "not a hex HMAC-SHA256"),
        (Provider.calcom, "", "not a hex HMAC-SHA256"),
        (Provider.calendly, None, "header is missing"),
        (Provider.calendly, "v1=" + "ab" * 32, "exactly one t="),
        (Provider.calendly, "t=1772452830,t=1772452830,v1=" + "ab" * 32, "exactly one t="),
        (Provider.calendly, "t=1772452830", "no v1= signature"),
        (Provider.calendly, "t=abc,v1=" + "ab" * 32, "not a Unix time"),
        (Provider.calendly, "t=1772452830.5,v1=" + "ab" * 32, "not a Unix time"),
        (Provider.calendly, "t=-5,v1=" + "ab" * 32, "not a Unix time"),
        (Provider.calendly, "garbage", "exactly one t="),
        (Provider.standard, None, "webhook-signature header is missing"),
        (Provider.standard, "v1", "malformed"),
        (Provider.standard, "v1,abc,def", "malformed"),
        (Provider.standard, "v1,***", "not base64"),
        (Provider.standard, "v1a,c2lnbmVk", "does not match"),
    ],
)
def test_a_malformed_signature_header_is_refused(
    provider: Provider, value: str | None, reason: str
) -> None:
    body = EVENTS[provider]()
    headers = signed(provider, body)
    if value is None:
        del headers[SIGNATURE_HEADER[provider]]
    else:
        headers[SIGNATURE_HEADER[provider]] = value

    with pytest.raises(SignatureInvalid, match=reason):
        verify(provider, SECRETS[provider], body, headers, NOW)


@pytest.mark.parametrize(
    ("provider", "signed_at", "reason"),
    [
        (provider, NOW + offset, reason)
        for provider in (Provider.calendly, Provider.standard)
        for offset, reason in [
            (-timedelta(seconds=301), "more than 5 minutes old"),
            (timedelta(seconds=301), "in the future"),
        ]
    ],
)
def test_a_timestamp_outside_five_minutes_is_refused(
    provider: Provider, signed_at: datetime, reason: str
) -> None:
    body = EVENTS[provider]()

    with pytest.raises(SignatureInvalid, match=reason):
        verify(provider, SECRETS[provider], body, signed(provider, body, at=signed_at), NOW)


def _calendly_event_named(event: str) -> bytes:
    return edited(calendly_event(), lambda d: d.update(event=event))


def _standard_typed(type_: str) -> bytes:
    return edited(standard_event(), lambda d: d.update(type=type_))


IGNORED = [
    *[
        (Provider.calcom, trigger, calcom_event(trigger))
        for trigger in [
            "BOOKING_REQUESTED",
            "BOOKING_REJECTED",
            "MEETING_ENDED",
            "BOOKING_NO_SHOW_UPDATED",
            "SOMETHING_NEW",
        ]
    ],
    *[
        (Provider.calendly, event, _calendly_event_named(event))
        for event in ["invitee_no_show.created", "routing_form_submission.created"]
    ],
    *[
        (Provider.standard, type_, _standard_typed(type_))
        for type_ in ["booking.no_show", "webhook.test"]
    ],
]


@pytest.mark.parametrize(("provider", "trigger", "body"), IGNORED, ids=[i[1] for i in IGNORED])
def test_other_triggers_are_ignored(provider: Provider, trigger: str, body: bytes) -> None:
    assert parse(provider, body) == IgnoredEvent(trigger=trigger, occurred_at=CREATED_AT)


LOCATIONS = [
    *[
        (Provider.calcom, given, calcom_event(location=given), expected)
        for given, expected in [
            ("inPerson", Location.in_person),
            ("attendeeInPerson", Location.in_person),
            ("1200 NW Everett St, Portland, OR", Location.in_person),
            ("integrations:daily", Location.telehealth),
            ("integrations:google:meet", Location.telehealth),
            ("https://app.cal.com/video/bk_1a2b", Location.telehealth),
            ("link", Location.telehealth),
            ("phone", Location.telehealth),
            ("+1 503 555 0142", Location.telehealth),
            ("somewhereElse", None),
            ("", None),
        ]
    ],
    *[
        (Provider.calendly, given, calendly_event(location_type=given), expected)
        for given, expected in [
            ("physical", Location.in_person),
            ("zoom", Location.telehealth),
            ("google_conference", Location.telehealth),
            ("microsoft_teams_conference", Location.telehealth),
            ("webex_conference", Location.telehealth),
            ("gotomeeting", Location.telehealth),
            ("outbound_call", Location.telehealth),
            ("inbound_call", Location.telehealth),
            ("custom", None),
            ("ask_invitee", None),
            ("hologram", None),
        ]
    ],
]


@pytest.mark.parametrize(
    ("provider", "given", "body", "expected"),
    LOCATIONS,
    ids=[f"{provider.value}-{given or 'empty'}" for provider, given, _, _ in LOCATIONS],
)
def test_location(provider: Provider, given: str, body: bytes, expected: Location | None) -> None:
    event = parse(provider, body)

    assert isinstance(event, BookingEvent)
    assert event.location == expected


def _malformed(provider: Provider, cases: list[tuple[Change, list[str]]]) -> list[Any]:
    return [(provider, change, loc) for change, loc in cases]


MALFORMED = [
    *_malformed(
        Provider.calcom,
        [
            (lambda d: d.pop("payload"), ["body", "payload"]),
            (lambda d: d["payload"].pop("uid"), ["body", "payload", "uid"]),
            (lambda d: d["payload"].update(uid=""), ["body", "payload", "uid"]),
            (lambda d: d["payload"].update(uid="u" * 201), ["body", "payload", "uid"]),
            (lambda d: d["payload"].pop("startTime"), ["body", "payload", "startTime"]),
            (lambda d: d["payload"].pop("endTime"), ["body", "payload", "endTime"]),
            (
                lambda d: d["payload"].update(startTime="2026-03-04T15:00:00"),
                ["body", "payload", "startTime"],
            ),
            (lambda d: d["payload"].update(endTime=1772636400), ["body", "payload", "endTime"]),
            (lambda d: d.update(createdAt="2026-03-02T12:00:00"), ["body", "createdAt"]),
            (lambda d: d["payload"].update(eventTypeId="41"), ["body", "payload", "eventTypeId"]),
        ],
    ),
    *_malformed(
        Provider.calendly,
        [
            (lambda d: d["payload"].pop("uri"), ["body", "payload", "uri"]),
            (lambda d: d["payload"].pop("scheduled_event"), ["body", "payload", "scheduled_event"]),
            (
                lambda d: d["payload"]["scheduled_event"].update(start_time="2026-03-04T15:00:00"),
                ["body", "payload", "scheduled_event", "start_time"],
            ),
            (lambda d: d.pop("created_at"), ["body", "created_at"]),
            (lambda d: d.update(payload=[]), ["body", "payload"]),
        ],
    ),
    *_malformed(
        Provider.standard,
        [
            (lambda d: d["data"].pop("booking_id"), ["body", "data", "booking_id"]),
            (lambda d: d["data"].update(kind="microdose"), ["body", "data", "kind"]),
            (lambda d: d["data"].update(location="moon"), ["body", "data", "location"]),
            (lambda d: d["data"].pop("kind"), ["body", "data"]),  # neither kind nor event_type
            (lambda d: d["data"].pop("starts_at"), ["body", "data", "starts_at"]),
            (lambda d: d["data"].pop("attendee_email"), ["body", "data", "attendee_email"]),
            (lambda d: d["data"].update(notes="x"), ["body", "data", "notes"]),
            (
                lambda d: d["data"].update(ends_at="2026-03-04T16:00:00"),
                ["body", "data", "ends_at"],
            ),
            (lambda d: d.update(timestamp="2026-03-02T12:00:00"), ["body", "timestamp"]),
            (lambda d: d.pop("timestamp"), ["body", "timestamp"]),
            (lambda d: d.update(data="booking"), ["body", "data"]),
            (
                lambda d: d["data"].update(attendee_name="Maya\x00"),
                ["body", "data", "attendee_name"],
            ),
        ],
    ),
]


@pytest.mark.parametrize(("provider", "change", "loc"), MALFORMED)
def test_a_malformed_booking_is_refused(provider: Provider, change: Change, loc: list[str]) -> None:
    assert loc in locs(payload_errors(provider, edited(EVENTS[provider](), change)))
