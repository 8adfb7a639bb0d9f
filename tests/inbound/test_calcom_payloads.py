"""Cal.com webhooks: X-Cal-Signature-256 checked, the `{triggerEvent, payload}` envelope read
into one BookingEvent.

Pure functions, no database, no app: every failure Cal.com (or a forger) can cause must end in
SignatureInvalid or PayloadInvalid, never in a 500.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.datastructures import Headers

from app.inbound.providers import (
    BookingAction,
    BookingEvent,
    IgnoredEvent,
    Provider,
    SignatureInvalid,
    parse,
    verify,
)
from app.sessions.enums import Location
from tests.inbound.payloads import ATTENDEE_NAME, CREATED_AT, ORGANIZER_EMAIL, calcom_headers
from tests.inbound.provider_support import (
    CAL_SECRET,
    END,
    NORMALIZED_EMAIL,
    NOW,
    START,
    calcom_event,
    edited,
    locs,
    payload_errors,
)


class TestCalcom:
    def test_a_signed_creation_verifies_and_parses(self) -> None:
        body = calcom_event()
        headers = calcom_headers(CAL_SECRET, body)

        assert verify(Provider.calcom, CAL_SECRET, body, headers, NOW) is None
        assert parse(Provider.calcom, body) == BookingEvent(
            action=BookingAction.created,
            booking_id="bk_1a2b",
            previous_booking_id=None,
            next_booking_id=None,
            occurred_at=CREATED_AT,
            event_type_keys=("41", "integration-60"),
            kind=None,
            starts_at=START,
            ends_at=END,
            attendee_email=NORMALIZED_EMAIL,
            attendee_name=ATTENDEE_NAME,
            organizer_email=ORGANIZER_EMAIL,
            location=Location.in_person,
            cancellation_reason=None,
        )

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
        "trigger",
        [
            "BOOKING_REQUESTED",
            "BOOKING_REJECTED",
            "MEETING_ENDED",
            "BOOKING_NO_SHOW_UPDATED",
            "SOMETHING_NEW",
        ],
    )
    def test_other_triggers_are_ignored(self, trigger: str) -> None:
        body = calcom_event(trigger)

        assert parse(Provider.calcom, body) == IgnoredEvent(trigger=trigger, occurred_at=CREATED_AT)

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

    @pytest.mark.parametrize(
        ("location", "expected"),
        [
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
        ],
    )
    def test_location(self, location: str, expected: Location | None) -> None:
        event = parse(Provider.calcom, calcom_event(location=location))

        assert isinstance(event, BookingEvent)
        assert event.location == expected

    def test_an_absent_location_is_none(self) -> None:
        body = edited(calcom_event(), lambda d: d["payload"].pop("location"))

        event = parse(Provider.calcom, body)

        assert isinstance(event, BookingEvent)
        assert event.location is None

    @pytest.mark.parametrize(
        ("headers", "reason"),
        [
            ({}, "header is missing"),
            ({"x-cal-signature-256": "no-secret-provided"}, "has no secret set"),
            ({"x-cal-signature-256": "zz" * 32}, "not a hex HMAC-SHA256"),
            ({"x-cal-signature-256": "ab" * 31}, "not a hex HMAC-SHA256"),
            ({"x-cal-signature-256": ""}, "not a hex HMAC-SHA256"),
        ],
    )
    def test_a_malformed_signature_is_refused(self, headers: dict[str, str], reason: str) -> None:
        with pytest.raises(SignatureInvalid, match=reason):
            verify(Provider.calcom, CAL_SECRET, calcom_event(), headers, NOW)

    def test_a_wrong_secret_or_an_altered_body_does_not_match(self) -> None:
        body = calcom_event()
        forged = calcom_headers("some-other-secret", body)
        altered = body.replace(b"bk_1a2b", b"bk_1a2c", 1)

        for sent, headers in [(body, forged), (altered, calcom_headers(CAL_SECRET, body))]:
            with pytest.raises(SignatureInvalid, match="does not match") as caught:
                verify(Provider.calcom, CAL_SECRET, sent, headers, NOW)
            assert CAL_SECRET not in str(caught.value)

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

    @pytest.mark.parametrize(
        ("change", "loc"),
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
    )
    def test_a_malformed_booking_is_refused(
        self, change: Callable[[dict[str, Any]], object], loc: list[str]
    ) -> None:
        assert loc in locs(payload_errors(Provider.calcom, edited(calcom_event(), change)))

    def test_a_cancellation_needs_its_uid(self) -> None:
        body = calcom_event("BOOKING_CANCELLED")

        errors = payload_errors(Provider.calcom, edited(body, lambda d: d["payload"].pop("uid")))

        assert locs(errors) == [["body", "payload", "uid"]]
