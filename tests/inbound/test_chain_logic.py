"""Booking chains built from provider facts, without HTTP and without a provider's format.

Events are BookingEvents made by hand; filing them (app/inbound/chains.py) only adds facts, so
every delivery order, duplicates included, must end in the same chains with the same head. The
description of a booking is pure and tested as such; filing runs on a real AsyncSession on each
database, through the public function `file_event` and the repository's `booking` and `chain_head`.
"""

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.inbound import repository
from app.inbound.models import BookingChain, SchedulingIntegration
from app.inbound.providers import BookingAction, BookingEvent, Provider
from app.inbound.schemas import IntegrationCreate
from app.inbound.service import chains
from app.inbound.service.chains import BookingDetails
from app.inbound.service.integrations import create_integration
from app.sessions.enums import Location, SessionKind
from tests.support.factories import T0
from tests.support.services import ClinicDb

START = T0 + timedelta(days=2)


def event(
    action: BookingAction,
    booking_id: str,
    *,
    minute: int = 0,
    previous: str | None = None,
    following: str | None = None,
    starts_at: datetime | None = START,
    reason: str | None = None,
    **details: Any,
) -> BookingEvent:
    """An event that happened `minute` minutes after T0, about a booking at `starts_at`."""
    fields: dict[str, Any] = {
        "event_type_keys": ("integration-60",),
        "kind": None,
        "attendee_email": "maya.okafor@example.org",
        "attendee_name": "Maya Okafor",
        "organizer_email": "dr.avery@clinic.example",
        "location": Location.in_person,
    }
    return BookingEvent(
        action=action,
        booking_id=booking_id,
        previous_booking_id=previous,
        next_booking_id=following,
        occurred_at=T0 + timedelta(minutes=minute),
        starts_at=starts_at,
        ends_at=None if starts_at is None else starts_at + timedelta(hours=1),
        cancellation_reason=reason,
        **(fields | details),
    )


# --- the description of a booking: pure ---------------------------------------------------------


def test_a_booking_is_described_only_by_an_event_with_its_times() -> None:
    cancelled = event(BookingAction.cancelled, "A", starts_at=None)
    created = event(BookingAction.created, "A")

    assert BookingDetails.of(cancelled) is None
    assert BookingDetails.of(created) == BookingDetails(
        starts_at=START,
        ends_at=START + timedelta(hours=1),
        event_type_keys=("integration-60",),
        kind=None,
        attendee_email="maya.okafor@example.org",
        attendee_name="Maya Okafor",
        organizer_email="dr.avery@clinic.example",
        location=Location.in_person,
    )


@pytest.mark.parametrize(
    ("kind", "location", "names"),
    [
        (None, None, {}),
        (SessionKind.integration, Location.telehealth, {}),
        (
            SessionKind.ketamine,
            Location.in_person,
            {"attendee_name": None, "organizer_email": None},
        ),
    ],
)
def test_a_description_is_stored_and_read_back_unchanged(
    kind: SessionKind | None, location: Location | None, names: dict[str, Any]
) -> None:
    details = BookingDetails.of(event(BookingAction.created, "A", kind=kind, location=location))
    assert details is not None
    details = replace(details, **names)

    assert BookingDetails.from_json(details.to_json()) == details


# --- filing: any order, the same chains ----------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """What the chains say about one provider booking id."""

    replaced_by: str | None
    cancelled: bool
    cancellation_reason: str | None
    starts_at: datetime | None


@dataclass(frozen=True)
class Chains:
    """The chains as sets of booking ids, their heads, and each booking: no database ids."""

    groups: frozenset[frozenset[str]]
    heads: frozenset[str]
    bookings: dict[str, Booking]


async def filed(
    clinic_db: ClinicDb, app: FastAPI, events: Sequence[BookingEvent], at: datetime = T0
) -> Chains:
    """The chains after filing `events` in this order into a new integration's bookings."""
    integration = await new_integration(clinic_db, app)
    for number, each in enumerate(events):
        await chains.file_event(clinic_db.db, integration, each, at + timedelta(seconds=number))
    return await read(clinic_db, integration, {each.booking_id for each in events})


async def new_integration(clinic_db: ClinicDb, app: FastAPI) -> SchedulingIntegration:
    body = IntegrationCreate(
        provider=Provider.calcom,
        name="Front desk",
        signing_secret=SecretStr("cal-webhook-secret-7Hq2"),
    )
    return await create_integration(clinic_db.db, clinic_db.clinic_id, body, app.state.secret_box)


async def read(clinic_db: ClinicDb, integration: SchedulingIntegration, ids: set[str]) -> Chains:
    groups: dict[uuid.UUID, set[str]] = {}
    bookings: dict[str, Booking] = {}
    for booking_id in sorted(ids):
        found = await repository.booking(clinic_db.db, integration.id, booking_id)
        assert found is not None, booking_id
        groups.setdefault(found.chain_id, set()).add(booking_id)
        described = BookingDetails.from_json(found.details) if found.details else None
        bookings[booking_id] = Booking(
            found.replaced_by,
            found.cancelled,
            found.cancellation_reason,
            described.starts_at if described else None,
        )
    heads = set()
    for chain_id in groups:
        head = await repository.chain_head(
            clinic_db.db, await clinic_db.db.get_one(BookingChain, chain_id)
        )
        assert head is not None
        heads.add(head.booking_id)
    return Chains(frozenset(map(frozenset, groups.values())), frozenset(heads), bookings)


def orders(events: Sequence[BookingEvent]) -> list[tuple[BookingEvent, ...]]:
    """Every distinct delivery order of `events`."""
    return sorted(set(itertools.permutations(events)), key=repr)


async def test_a_chain_of_reschedules_ends_at_its_head_in_any_order(
    clinic_db: ClinicDb, app: FastAPI
) -> None:
    """Cal.com's way: each new booking names the one it replaces. One delivery comes twice."""
    created = event(BookingAction.created, "A")
    moved = event(
        BookingAction.rescheduled, "B", minute=5, previous="A", starts_at=START + timedelta(days=1)
    )
    moved_again = event(
        BookingAction.rescheduled, "C", minute=9, previous="B", starts_at=START + timedelta(days=2)
    )
    every = orders([created, moved, moved_again, moved])
    seen = [await filed(clinic_db, app, order) for order in every]

    assert len(every) == 12
    assert seen == [
        Chains(
            groups=frozenset({frozenset({"A", "B", "C"})}),
            heads=frozenset({"C"}),
            bookings={
                "A": Booking("B", False, None, START),
                "B": Booking("C", False, None, START + timedelta(days=1)),
                "C": Booking(None, False, None, START + timedelta(days=2)),
            },
        )
    ] * len(every)


async def test_a_reschedule_told_as_cancel_and_create_is_one_chain_in_any_order(
    clinic_db: ClinicDb, app: FastAPI
) -> None:
    """Calendly's way: the old invitee is cancelled naming its successor, which names it back.
    That cancellation is a link, not the end of the appointment."""
    later = START + timedelta(days=1)
    events = [
        event(BookingAction.created, "A"),
        event(BookingAction.cancelled, "A", minute=5, following="B", reason="Rescheduled"),
        event(BookingAction.created, "B", minute=5, previous="A", starts_at=later),
    ]
    seen = [await filed(clinic_db, app, order) for order in orders(events)]

    assert (
        seen
        == [
            Chains(
                groups=frozenset({frozenset({"A", "B"})}),
                heads=frozenset({"B"}),
                bookings={
                    "A": Booking("B", False, None, START),
                    "B": Booking(None, False, None, later),
                },
            )
        ]
        * 6
    )


@pytest.mark.parametrize("times", [True, False], ids=["with_times", "without_times"])
async def test_a_cancellation_ends_the_booking_and_keeps_its_description(
    clinic_db: ClinicDb, app: FastAPI, times: bool
) -> None:
    """Whether the cancellation carries the booking's times or not, and whichever comes first."""
    created = event(BookingAction.created, "A")
    cancelled = event(
        BookingAction.cancelled,
        "A",
        minute=30,
        starts_at=START if times else None,
        reason="Client unwell",
    )
    seen = [await filed(clinic_db, app, order) for order in orders([created, cancelled])]

    assert (
        seen
        == [
            Chains(
                groups=frozenset({frozenset({"A"})}),
                heads=frozenset({"A"}),
                bookings={"A": Booking(None, True, "Client unwell", START)},
            )
        ]
        * 2
    )


async def test_the_latest_description_of_a_booking_wins_whichever_arrives_first(
    clinic_db: ClinicDb, app: FastAPI
) -> None:
    """A provider that edits a booking in place sends it again, newer; an older copy that
    arrives late changes nothing."""
    first = event(BookingAction.created, "A")
    edited = event(BookingAction.created, "A", minute=10, starts_at=START + timedelta(hours=3))
    seen = [await filed(clinic_db, app, order) for order in orders([first, edited])]

    assert {state.bookings["A"].starts_at for state in seen} == {START + timedelta(hours=3)}


async def test_joining_two_chains_keeps_the_older_one(clinic_db: ClinicDb, app: FastAPI) -> None:
    """Bookings filed apart each start a chain; the event that links them leaves one, the
    chain made first, and tells that no session was made redundant."""
    integration = await new_integration(clinic_db, app)
    db = clinic_db.db
    old = await chains.file_event(db, integration, event(BookingAction.created, "A"), T0)
    new = await chains.file_event(
        db, integration, event(BookingAction.created, "B", minute=1), T0 + timedelta(minutes=1)
    )
    linking = event(BookingAction.rescheduled, "B", minute=2, previous="A")

    joined = await chains.file_event(db, integration, linking, T0 + timedelta(minutes=2))

    assert new.chain.id != old.chain.id
    assert (joined.chain.id, joined.absorbed_sessions) == (old.chain.id, [])
    assert await db.get(BookingChain, new.chain.id) is None
    head = await repository.chain_head(db, joined.chain)
    assert head is not None
    assert head.booking_id == "B"
