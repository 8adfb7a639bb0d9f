"""Cal.com webhooks, what only Cal.com does: the `{triggerEvent, payload}` envelope's reschedules
and cancellations, event type keys, and its signature header found in any case.

Pure functions, no database, no app. The rules every provider shares (a signed creation, forged
bodies, malformed signatures and bookings, ignored triggers, locations) are in
test_provider_payloads.py.
"""

import json

import pytest
from starlette.datastructures import Headers

from app.inbound.providers import BookingAction, BookingEvent, Provider, parse, verify
from tests.inbound.payloads import calcom_headers
from tests.inbound.provider_support import (
    CAL_SECRET,
    END,
    NOW,
    START,
    calcom_event,
    edited,
    locs,
    payload_errors,
)


class TestCalcom:
    def test_a_reschedule_names_the_uid_it_replaces(self) -> None:
        body = calcom_event("BOOKING_RESCHEDULED", uid="bk_new", reschedule_uid="bk_old")

        event = parse(Provider.calcom, body)

        assert isinstance(event, BookingEvent)
        assert (event.action, event.booking_id) == (BookingAction.rescheduled, "bk_new")
        assert (event.previous_booking_id, event.next_booking_id) == ("bk_old", None)
        assert (event.starts_at, event.ends_at) == (START, END)

    def test_a_reschedule_without_the_old_uid_is_refused(self) -> None:
        body = calcom_event("BOOKING_RESCHEDULED", uid="bk_new")

        assert locs(payload_errors(Provider.calcom, body)) == [["body", "payload", "rescheduleUid"]]

    def test_a_cancellation_keeps_its_times_and_reason(self) -> None:
        body = calcom_event("BOOKING_CANCELLED", cancellation_reason="  Feeling unwell ")

        event = parse(Provider.calcom, body)

        assert isinstance(event, BookingEvent)
        assert event.action is BookingAction.cancelled
        assert (event.starts_at, event.ends_at) == (START, END)
        assert event.cancellation_reason == "Feeling unwell"

    def test_a_host_request_to_reschedule_is_a_cancellation(self) -> None:
        body = calcom_event("BOOKING_CANCELLED")
        body = edited(body, lambda d: d["payload"].update(requestReschedule=True))

        event = parse(Provider.calcom, body)

        assert isinstance(event, BookingEvent)
        assert (event.action, event.next_booking_id) == (BookingAction.cancelled, None)

    def test_a_cancellation_without_times_still_parses(self) -> None:
        body = calcom_event("BOOKING_CANCELLED")
        body = edited(body, lambda d: [d["payload"].pop(k) for k in ("startTime", "endTime")])

        event = parse(Provider.calcom, body)

        assert isinstance(event, BookingEvent)
        assert (event.starts_at, event.ends_at) == (None, None)

    @pytest.mark.parametrize(
        ("event_type_id", "slug", "keys"),
        [
            (41, "integration-60", ("41", "integration-60")),
            (None, "integration-60", ("integration-60",)),
            (41, "", ("41",)),
        ],
    )
    def test_event_type_keys_skip_what_is_missing(
        self, event_type_id: int | None, slug: str, keys: tuple[str, ...]
    ) -> None:
        event = parse(Provider.calcom, calcom_event(event_type_id=event_type_id, slug=slug))

        assert isinstance(event, BookingEvent)
        assert event.event_type_keys == keys

    def test_an_absent_location_is_none(self) -> None:
        body = edited(calcom_event(), lambda d: d["payload"].pop("location"))

        event = parse(Provider.calcom, body)

        assert isinstance(event, BookingEvent)
        assert event.location is None

    def test_headers_are_found_in_any_case(self) -> None:
        body = calcom_event()
        signature = calcom_headers(CAL_SECRET, body)["X-Cal-Signature-256"]

        for headers in [
            {"x-cal-signature-256": signature},
            {"X-CAL-SIGNATURE-256": signature},
            Headers({"X-Cal-Signature-256": signature}),
        ]:
            assert verify(Provider.calcom, CAL_SECRET, body, headers, NOW) is None

    def test_a_custom_payload_template_is_refused(self) -> None:
        body = json.dumps({"booking": "bk_1a2b", "when": "2026-03-04T15:00:00Z"}).encode()

        [error] = payload_errors(Provider.calcom, body)

        assert error["loc"] == ["body", "triggerEvent"]
        assert "custom payload template" in error["msg"]

    def test_a_cancellation_needs_its_uid(self) -> None:
        body = calcom_event("BOOKING_CANCELLED")

        errors = payload_errors(Provider.calcom, edited(body, lambda d: d["payload"].pop("uid")))

        assert locs(errors) == [["body", "payload", "uid"]]
