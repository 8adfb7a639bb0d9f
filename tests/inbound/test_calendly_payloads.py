"""Calendly webhooks: Calendly-Webhook-Signature checked against our clock, invitee events read
into one BookingEvent.

Pure functions, no database, no app: every failure Calendly (or a forger) can cause must end in
SignatureInvalid or PayloadInvalid, never in a 500.
"""

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
from app.sessions.enums import Location
from tests.inbound.payloads import (
    ATTENDEE_NAME,
    CALENDLY_EVENT_TYPE,
    CREATED_AT,
    ORGANIZER_EMAIL,
    calendly_headers,
)
from tests.inbound.provider_support import (
    CALENDLY_SECRET,
    END,
    INVITEE,
    NEW_INVITEE,
    NORMALIZED_EMAIL,
    NOW,
    START,
    calendly_event,
    edited,
    locs,
    payload_errors,
)


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
