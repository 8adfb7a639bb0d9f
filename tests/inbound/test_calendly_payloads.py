"""Calendly webhooks, what only Calendly does: a reschedule as a linked cancel and create, an
optional organizer, a custom location with a join URL, and signatures of several keys in one
header, checked against our clock.

Pure functions, no database, no app. The rules every provider shares (a signed creation, forged
bodies, malformed signatures and bookings, ignored events, locations, the five-minute window) are
in test_provider_payloads.py.
"""

from datetime import timedelta

import pytest

from app.inbound.providers import BookingAction, BookingEvent, Provider, parse, verify
from app.sessions.enums import Location
from tests.inbound.payloads import calendly_headers
from tests.inbound.provider_support import (
    CALENDLY_SECRET,
    END,
    INVITEE,
    NEW_INVITEE,
    NOW,
    START,
    calendly_event,
    edited,
)


class TestCalendly:
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

    def test_an_organizer_is_optional(self) -> None:
        event = parse(Provider.calendly, calendly_event(organizer_email=None))

        assert isinstance(event, BookingEvent)
        assert event.organizer_email is None

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

    @pytest.mark.parametrize("offset", [-300, 300])
    def test_five_minutes_either_way_is_accepted(self, offset: int) -> None:
        body = calendly_event()
        headers = calendly_headers(CALENDLY_SECRET, body, NOW + timedelta(seconds=offset))

        assert verify(Provider.calendly, CALENDLY_SECRET, body, headers, NOW) is None

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
