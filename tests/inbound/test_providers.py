"""Provider webhooks: signatures checked against our clock, bodies read into one BookingEvent.

Pure functions, no database, no app: every failure a provider (or a forger) can cause must end
in SignatureInvalid or PayloadInvalid, never in a 500.
"""

import base64
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from app.inbound.providers import (
    BookingAction,
    BookingEvent,
    IgnoredEvent,
    PayloadInvalid,
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
    calcom_body,
    calcom_headers,
    calendly_body,
    calendly_headers,
    standard_body,
    standard_headers,
)

NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
START = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
CAL_SECRET = "cal-webhook-secret-7Hq2"
CALENDLY_SECRET = "calendly-signing-key-Zr81"
STANDARD_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_STANDARD_SECRET = "whsec_" + base64.b64encode(bytes(range(32, 64))).decode()
INVITEE = "https://api.calendly.com/scheduled_events/EV1/invitees/INV1"
NEW_INVITEE = "https://api.calendly.com/scheduled_events/EV2/invitees/INV2"
EMAIL = "  Maya.Okafor@Example.ORG "
NORMALIZED_EMAIL = "maya.okafor@example.org"


def edited(body: bytes, change: Callable[[dict[str, Any]], object]) -> bytes:
    """The body with `change` applied to its parsed JSON (re-serialized compactly)."""
    document = json.loads(body)
    change(document)
    return json.dumps(document, separators=(",", ":")).encode()


def payload_errors(provider: Provider, body: bytes) -> list[dict[str, Any]]:
    with pytest.raises(PayloadInvalid) as caught:
        parse(provider, body)
    errors = caught.value.errors
    assert errors
    for error in errors:
        assert set(error) == {"loc", "msg", "type"}
        assert error["loc"][0] == "body"
    return errors


def locs(errors: list[dict[str, Any]]) -> list[list[str | int]]:
    return [error["loc"] for error in errors]


def calcom_event(trigger: str = "BOOKING_CREATED", **overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "uid": "bk_1a2b",
        "start": START,
        "end": END,
        "attendee_email": EMAIL,
        "created_at": CREATED_AT,
    }
    return calcom_body(trigger, **(fields | overrides))


def calendly_event(event: str = "invitee.created", **overrides: Any) -> bytes:
    fields: dict[str, Any] = {"invitee_uri": INVITEE, "start": START, "end": END, "email": EMAIL}
    return calendly_body(event, **(fields | overrides))


def standard_event(type_: str = "booking.created", **overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "booking_id": "appt-991",
        "start": START,
        "end": END,
        "attendee_email": EMAIL,
        "kind": "integration",
    }
    return standard_body(type_, **(fields | overrides))


# --- Cal.com ---------------------------------------------------------------------------------


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


# --- Calendly --------------------------------------------------------------------------------


class TestCalendly:
    def test_a_signed_creation_verifies_and_parses(self) -> None:
        body = calendly_event()
        headers = calendly_headers(CALENDLY_SECRET, body, NOW)

        assert verify(Provider.calendly, CALENDLY_SECRET, body, headers, NOW) is None
        assert parse(Provider.calendly, body) == BookingEvent(
            action=BookingAction.created,
            booking_id=INVITEE,
            previous_booking_id=None,
            next_booking_id=None,
            occurred_at=CREATED_AT,
            event_type_keys=(CALENDLY_EVENT_TYPE, "Integration 60"),
            kind=None,
            starts_at=START,
            ends_at=END,
            attendee_email=NORMALIZED_EMAIL,
            attendee_name=ATTENDEE_NAME,
            organizer_email=ORGANIZER_EMAIL,
            location=Location.in_person,
            cancellation_reason=None,
        )

    def test_a_reschedule_is_a_linked_cancel_and_create(self) -> None:
        cancel = calendly_event(
            "invitee.canceled", rescheduled=True, new_invitee=NEW_INVITEE, reason="Rescheduled"
        )
        create = calendly_event(
            invitee_uri=NEW_INVITEE,
            start=START + timedelta(days=1),
            end=END + timedelta(days=1),
            old_invitee=INVITEE,
        )

        old, new = parse(Provider.calendly, cancel), parse(Provider.calendly, create)

        assert isinstance(old, BookingEvent)
        assert isinstance(new, BookingEvent)
        assert (old.action, old.booking_id, old.next_booking_id, old.previous_booking_id) == (
            BookingAction.cancelled,
            INVITEE,
            NEW_INVITEE,
            None,
        )
        assert old.cancellation_reason == "Rescheduled"
        assert (new.action, new.booking_id, new.previous_booking_id, new.next_booking_id) == (
            BookingAction.created,
            NEW_INVITEE,
            INVITEE,
            None,
        )
        assert new.starts_at == START + timedelta(days=1)

    def test_a_plain_cancellation_names_no_successor(self) -> None:
        body = calendly_event("invitee.canceled", reason=" Can't make it ")

        event = parse(Provider.calendly, body)

        assert isinstance(event, BookingEvent)
        assert (event.action, event.next_booking_id) == (BookingAction.cancelled, None)
        assert event.cancellation_reason == "Can't make it"
        assert (event.starts_at, event.ends_at) == (START, END)

    @pytest.mark.parametrize(
        "trigger", ["invitee_no_show.created", "routing_form_submission.created"]
    )
    def test_other_events_are_ignored(self, trigger: str) -> None:
        body = edited(calendly_event(), lambda d: d.update(event=trigger))

        assert parse(Provider.calendly, body) == IgnoredEvent(
            trigger=trigger, occurred_at=CREATED_AT
        )

    def test_an_organizer_is_optional(self) -> None:
        event = parse(Provider.calendly, calendly_event(organizer_email=None))

        assert isinstance(event, BookingEvent)
        assert event.organizer_email is None

    @pytest.mark.parametrize(
        ("location_type", "expected"),
        [
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
        ],
    )
    def test_location(self, location_type: str, expected: Location | None) -> None:
        event = parse(Provider.calendly, calendly_event(location_type=location_type))

        assert isinstance(event, BookingEvent)
        assert event.location == expected

    def test_a_custom_location_with_a_join_url_is_telehealth(self) -> None:
        body = edited(
            calendly_event(location_type="custom"),
            lambda d: d["payload"]["scheduled_event"]["location"].update(
                join_url="https://video.example/room/12"
            ),
        )

        event = parse(Provider.calendly, body)

        assert isinstance(event, BookingEvent)
        assert event.location is Location.telehealth

    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            (None, "header is missing"),
            ("v1=" + "ab" * 32, "exactly one t="),
            ("t=1772452830,t=1772452830,v1=" + "ab" * 32, "exactly one t="),
            ("t=1772452830", "no v1= signature"),
            ("t=abc,v1=" + "ab" * 32, "not a Unix time"),
            ("t=1772452830.5,v1=" + "ab" * 32, "not a Unix time"),
            ("t=-5,v1=" + "ab" * 32, "not a Unix time"),
            ("garbage", "exactly one t="),
        ],
    )
    def test_a_malformed_signature_header_is_refused(self, header: str | None, reason: str) -> None:
        headers = {} if header is None else {"calendly-webhook-signature": header}

        with pytest.raises(SignatureInvalid, match=reason):
            verify(Provider.calendly, CALENDLY_SECRET, calendly_event(), headers, NOW)

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
        body = calendly_event()

        with pytest.raises(SignatureInvalid, match=reason):
            verify(
                Provider.calendly,
                CALENDLY_SECRET,
                body,
                calendly_headers(CALENDLY_SECRET, body, signed_at),
                NOW,
            )

    @pytest.mark.parametrize("offset", [-300, 300])
    def test_five_minutes_either_way_is_accepted(self, offset: int) -> None:
        body = calendly_event()
        headers = calendly_headers(CALENDLY_SECRET, body, NOW + timedelta(seconds=offset))

        assert verify(Provider.calendly, CALENDLY_SECRET, body, headers, NOW) is None

    def test_a_wrong_secret_or_an_altered_body_does_not_match(self) -> None:
        body = calendly_event()
        forged = calendly_headers("some-other-key", body, NOW)
        altered = body.replace(b"INV1", b"INV9", 1)

        for sent, headers in [
            (body, forged),
            (altered, calendly_headers(CALENDLY_SECRET, body, NOW)),
        ]:
            with pytest.raises(SignatureInvalid, match="does not match") as caught:
                verify(Provider.calendly, CALENDLY_SECRET, sent, headers, NOW)
            assert CALENDLY_SECRET not in str(caught.value)

    def test_any_of_several_v1_signatures_may_match(self) -> None:
        body = calendly_event()
        good = calendly_headers(CALENDLY_SECRET, body, NOW)["Calendly-Webhook-Signature"]
        stale_key = calendly_headers("retired-key", body, NOW)["Calendly-Webhook-Signature"]
        t, v1 = good.split(",")
        header = f"{t}, {stale_key.split(',')[1]}, v1=not-hex, {v1}"

        assert (
            verify(
                Provider.calendly,
                CALENDLY_SECRET,
                body,
                {"Calendly-Webhook-Signature": header},
                NOW,
            )
            is None
        )

    @pytest.mark.parametrize(
        ("change", "loc"),
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
    )
    def test_a_malformed_invitee_is_refused(
        self, change: Callable[[dict[str, Any]], object], loc: list[str]
    ) -> None:
        assert loc in locs(payload_errors(Provider.calendly, edited(calendly_event(), change)))


# --- Standard Webhooks -----------------------------------------------------------------------


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


# --- every provider --------------------------------------------------------------------------

BODIES = {
    Provider.calcom: calcom_event(),
    Provider.calendly: calendly_event(),
    Provider.standard: standard_event(),
}


@pytest.mark.parametrize("provider", list(Provider))
@pytest.mark.parametrize(
    ("body", "type_"),
    [
        (b"", "json_invalid"),
        (b"not json", "json_invalid"),
        (b'{"type": ', "json_invalid"),
        (b"\xff\xfe{}", "string_unicode"),
        (b"[]", "dict_type"),
        (b'"booking"', "dict_type"),
        (b"[" * 100_000 + b"]" * 100_000, "json_invalid"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    provider: Provider, body: bytes, type_: str
) -> None:
    assert [error["type"] for error in payload_errors(provider, body)] == [type_]


@pytest.mark.parametrize("provider", list(Provider))
def test_a_nul_character_anywhere_is_refused(provider: Provider) -> None:
    body = BODIES[provider].replace(b'{"', b'{"\\u0000', 1)

    [error] = payload_errors(provider, body)

    assert error["msg"] == "text must not contain NUL (U+0000) characters"


@pytest.mark.parametrize("provider", list(Provider))
def test_a_payload_error_names_the_field_not_the_value(provider: Provider) -> None:
    secret_value = "m.okafor.private@example.org"
    body = edited(
        BODIES[provider],
        lambda d: d.update(createdAt=secret_value, created_at=secret_value, timestamp=secret_value),
    )

    with pytest.raises(PayloadInvalid) as caught:
        parse(provider, body)

    assert secret_value not in str(caught.value)
    assert secret_value not in json.dumps(caught.value.errors)


# --- fuzz: nothing but SignatureInvalid or PayloadInvalid, whatever arrives --------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRETS = {
    Provider.calcom: CAL_SECRET,
    Provider.calendly: CALENDLY_SECRET,
    Provider.standard: STANDARD_SECRET,
}
SIGNATURE_HEADERS = {
    Provider.calcom: ["X-Cal-Signature-256"],
    Provider.calendly: ["Calendly-Webhook-Signature"],
    Provider.standard: ["webhook-id", "Webhook-Timestamp", "webhook-signature"],
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def genuine_headers(provider: Provider, body: bytes, at: datetime) -> dict[str, str]:
    secret = SECRETS[provider]
    if provider is Provider.calcom:
        return calcom_headers(secret, body)
    if provider is Provider.calendly:
        return calendly_headers(secret, body, at)
    try:
        return standard_headers(secret, body, at)
    except UnicodeDecodeError:  # the sender signs text
        return {}


@st.composite
def fuzzed_headers(
    draw: st.DrawFn, provider: Provider, body: bytes, now: datetime
) -> dict[str, str]:
    """Near misses: the provider's own headers, mostly present, each genuine or mangled."""
    at = now + timedelta(seconds=draw(st.integers(-400, 400)))
    near = str(int(at.timestamp()))
    hex64 = st.from_regex(r"[0-9a-fA-F]{62,66}", fullmatch=True)
    mangled = (
        st.text(max_size=80)
        | st.just(near)
        | st.from_regex(r"msg_[A-Za-z0-9._]{0,12}", fullmatch=True)
        | hex64
        | st.builds(
            lambda t, sigs: ",".join([f"t={t}", *(f"v1={s}" for s in sigs)]),
            st.just(near) | st.text(max_size=12),
            st.lists(hex64 | st.text(max_size=10), max_size=3),
        )
        | st.builds(
            " ".join,
            st.lists(st.from_regex(r"v1a?,?[A-Za-z0-9+/=,*]{0,48}", fullmatch=True), max_size=3),
        )
    )
    genuine = {name.lower(): value for name, value in genuine_headers(provider, body, at).items()}
    headers = draw(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=2))
    for name in SIGNATURE_HEADERS[provider]:
        choice = draw(st.sampled_from(["genuine", "genuine", "mangled", "mangled", "absent"]))
        if choice == "genuine" and name.lower() in genuine:
            headers[name] = genuine[name.lower()]
        elif choice == "mangled":
            headers[name] = draw(mangled)
    return headers


@FUZZ
@given(
    provider=st.sampled_from(Provider),
    body=st.binary(max_size=300)
    | st.text(max_size=200).map(str.encode)
    | st.sampled_from(list(BODIES.values())),
    secret=st.sampled_from(list(SECRETS.values())) | st.text(max_size=40),
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    data=st.data(),
)
def test_verify_only_ever_refuses(
    provider: Provider, body: bytes, secret: str, now: datetime, data: st.DataObject
) -> None:
    headers = data.draw(fuzzed_headers(provider, body, now))
    with contextlib.suppress(SignatureInvalid):
        delivery_id = verify(provider, secret, body, headers, now)
        assert delivery_id is None or provider is Provider.standard


@FUZZ
@given(provider=st.sampled_from(Provider), body=st.binary(max_size=300))
def test_parse_only_ever_refuses_random_bytes(provider: Provider, body: bytes) -> None:
    with contextlib.suppress(PayloadInvalid):
        assert isinstance(parse(provider, body), BookingEvent | IgnoredEvent)


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@FUZZ
@given(provider=st.sampled_from(Provider), data=st.data())
def test_parse_only_ever_refuses_a_mangled_booking(provider: Provider, data: st.DataObject) -> None:
    document = json.loads(BODIES[provider])
    path = data.draw(st.sampled_from(_paths(document)[1:]))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    with contextlib.suppress(PayloadInvalid):
        assert isinstance(
            parse(provider, json.dumps(document).encode()), BookingEvent | IgnoredEvent
        )
