"""Our own format (Standard Webhooks, `booking.*` bodies), what only it does: offsets read as
UTC, reschedules and cancellations by booking id, the webhook-id and -timestamp headers, and
secrets rotated or unusable.

Pure functions, no database, no app. The rules every provider shares (a signed creation, forged
bodies, malformed signatures and bookings, ignored types, the five-minute window) are in
test_provider_payloads.py.
"""

from datetime import UTC

import pytest

from app.inbound.providers import (
    BookingAction,
    BookingEvent,
    Provider,
    SignatureInvalid,
    parse,
    verify,
)
from tests.inbound.payloads import CREATED_AT, standard_headers
from tests.inbound.provider_support import (
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

    def test_unknown_envelope_keys_are_ignored(self) -> None:
        body = edited(standard_event(), lambda d: d.update(id="evt_1", api_version="2026-03-01"))

        assert isinstance(parse(Provider.standard, body), BookingEvent)

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
            ("webhook-id", "m" * 201, "1 to 200 visible ASCII"),
            ("webhook-timestamp", "1772452830.0", "not a Unix time"),
            ("webhook-timestamp", "2026-03-02T12:00:30Z", "not a Unix time"),
        ],
    )
    def test_a_malformed_id_or_timestamp_header_is_refused(
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
