"""Our own format (Standard Webhooks, `booking.*` bodies): webhook-* headers checked against our
clock, bodies read into one BookingEvent.

Pure functions, no database, no app: every failure a sender (or a forger) can cause must end in
SignatureInvalid or PayloadInvalid, never in a 500.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
from tests.inbound.payloads import CREATED_AT, standard_headers
from tests.inbound.provider_support import (
    END,
    NORMALIZED_EMAIL,
    NOW,
    OTHER_STANDARD_SECRET,
    STANDARD_SECRET,
    START,
    edited,
    locs,
    payload_errors,
    standard_event,
)


class TestStandard:
    def test_a_signed_creation_verifies_against_our_clock_and_parses(self) -> None:
        body = standard_event(
            organizer_email=" Dr.Avery@Clinic.Example",
            location="telehealth",
            event_type="integration-60",
            attendee_name="Maya Okafor",
        )
        headers = standard_headers(STANDARD_SECRET, body, NOW, msg_id="msg_2KWPBgLlAfxdpx2")

        # NOW is a fixed instant, not the wall clock: the library's verify() would refuse it.
        delivery_id = verify(Provider.standard, STANDARD_SECRET, body, headers, NOW)

        assert delivery_id == "msg_2KWPBgLlAfxdpx2"
        assert parse(Provider.standard, body) == BookingEvent(
            action=BookingAction.created,
            booking_id="appt-991",
            previous_booking_id=None,
            next_booking_id=None,
            occurred_at=CREATED_AT,
            event_type_keys=("integration-60",),
            kind=SessionKind.integration,
            starts_at=START,
            ends_at=END,
            attendee_email=NORMALIZED_EMAIL,
            attendee_name="Maya Okafor",
            organizer_email="dr.avery@clinic.example",
            location=Location.telehealth,
            cancellation_reason=None,
        )

    def test_an_offset_timestamp_becomes_utc(self) -> None:
        body = edited(
            standard_event(),
            lambda d: d["data"].update(starts_at="2026-03-04T07:00:00-08:00"),
        )

        event = parse(Provider.standard, body)

        assert isinstance(event, BookingEvent)
        assert event.starts_at == START
        assert event.starts_at.tzinfo is UTC

    def test_a_reschedule_names_the_booking_it_replaces(self) -> None:
        body = standard_event(
            "booking.rescheduled",
            booking_id="appt-992",
            previous_booking_id="appt-991",
            kind=None,
            event_type="integration-60",
        )

        event = parse(Provider.standard, body)

        assert isinstance(event, BookingEvent)
        assert (event.action, event.booking_id, event.previous_booking_id) == (
            BookingAction.rescheduled,
            "appt-992",
            "appt-991",
        )
        assert (event.kind, event.event_type_keys) == (None, ("integration-60",))

    def test_a_cancellation_needs_only_the_booking_id(self) -> None:
        body = standard_event(
            "booking.cancelled",
            start=None,
            end=None,
            attendee_email=None,
            kind=None,
            reason="Client moved away",
        )

        assert parse(Provider.standard, body) == BookingEvent(
            action=BookingAction.cancelled,
            booking_id="appt-991",
            previous_booking_id=None,
            next_booking_id=None,
            occurred_at=CREATED_AT,
            event_type_keys=(),
            kind=None,
            starts_at=None,
            ends_at=None,
            attendee_email=None,
            attendee_name=None,
            organizer_email=None,
            location=None,
            cancellation_reason="Client moved away",
        )

    @pytest.mark.parametrize("type_", ["booking.no_show", "webhook.test"])
    def test_other_types_are_ignored(self, type_: str) -> None:
        body = edited(standard_event(), lambda d: d.update(type=type_))

        assert parse(Provider.standard, body) == IgnoredEvent(trigger=type_, occurred_at=CREATED_AT)

    def test_unknown_envelope_keys_are_ignored(self) -> None:
        body = edited(standard_event(), lambda d: d.update(id="evt_1", api_version="2026-03-01"))

        assert isinstance(parse(Provider.standard, body), BookingEvent)

    @pytest.mark.parametrize(
        ("change", "loc"),
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
    )
    def test_a_malformed_booking_is_refused(
        self, change: Callable[[dict[str, Any]], object], loc: list[str]
    ) -> None:
        assert loc in locs(payload_errors(Provider.standard, edited(standard_event(), change)))

    def test_a_reschedule_without_the_previous_booking_is_refused(self) -> None:
        body = edited(standard_event(), lambda d: d.update(type="booking.rescheduled"))

        assert locs(payload_errors(Provider.standard, body)) == [
            ["body", "data", "previous_booking_id"]
        ]

    @pytest.mark.parametrize(
        ("header", "value", "reason"),
        [
            ("webhook-id", None, "webhook-id header is missing"),
            ("webhook-timestamp", None, "webhook-timestamp header is missing"),
            ("webhook-signature", None, "webhook-signature header is missing"),
            ("webhook-id", "m" * 201, "1 to 200 visible ASCII"),
            ("webhook-timestamp", "1772452830.0", "not a Unix time"),
            ("webhook-timestamp", "2026-03-02T12:00:30Z", "not a Unix time"),
            ("webhook-signature", "v1", "malformed"),
            ("webhook-signature", "v1,abc,def", "malformed"),
            ("webhook-signature", "v1,***", "not base64"),
            ("webhook-signature", "v1a,c2lnbmVk", "does not match"),
        ],
    )
    def test_a_malformed_header_is_refused(
        self, header: str, value: str | None, reason: str
    ) -> None:
        body = standard_event()
        headers = standard_headers(STANDARD_SECRET, body, NOW)
        if value is None:
            del headers[header]
        else:
            headers[header] = value

        with pytest.raises(SignatureInvalid, match=reason):
            verify(Provider.standard, STANDARD_SECRET, body, headers, NOW)

    @pytest.mark.parametrize(
        ("signed_at", "reason"),
        [
            (NOW - timedelta(seconds=301), "more than 5 minutes old"),
            (NOW + timedelta(seconds=301), "in the future"),
        ],
    )
    def test_a_timestamp_outside_five_minutes_is_refused(
        self, signed_at: datetime, reason: str
    ) -> None:
        body = standard_event()
        headers = standard_headers(STANDARD_SECRET, body, signed_at)

        with pytest.raises(SignatureInvalid, match=reason):
            verify(Provider.standard, STANDARD_SECRET, body, headers, NOW)

    def test_a_wrong_secret_or_an_altered_body_does_not_match(self) -> None:
        body = standard_event()
        forged = standard_headers(OTHER_STANDARD_SECRET, body, NOW)
        altered = body.replace(b"appt-991", b"appt-992", 1)
        genuine = standard_headers(STANDARD_SECRET, body, NOW)

        for sent, headers in [(body, forged), (altered, genuine)]:
            with pytest.raises(SignatureInvalid, match="does not match") as caught:
                verify(Provider.standard, STANDARD_SECRET, sent, headers, NOW)
            assert STANDARD_SECRET.removeprefix("whsec_") not in str(caught.value)
            assert genuine["webhook-signature"].removeprefix("v1,") not in str(caught.value)

    def test_either_signature_matches_during_a_rotation(self) -> None:
        body = standard_event()
        old = standard_headers(OTHER_STANDARD_SECRET, body, NOW)
        new = standard_headers(STANDARD_SECRET, body, NOW)
        both = f"{old['webhook-signature']} v1a,c2lnbmVk {new['webhook-signature']}"
        headers = old | {"webhook-signature": both}

        assert verify(Provider.standard, STANDARD_SECRET, body, headers, NOW) == old["webhook-id"]

    def test_an_unusable_secret_is_refused_not_raised(self) -> None:
        body = standard_event()
        headers = standard_headers(STANDARD_SECRET, body, NOW)

        for secret in ["", "whsec_", "whsec_!!", "whsec_abc"]:
            with pytest.raises(SignatureInvalid):
                verify(Provider.standard, secret, body, headers, NOW)
