"""The window scanner on SQLite and PostgreSQL: which window events fire, when, and only once.

Journeys are booked through the API; the scanner runs in its own transaction at chosen instants
(never by sleeping). The database is shared by the whole suite, so assertions look at this
test's clinics, and the scanner's return value is checked against the suite-wide row count.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.db import begin_write
from app.events.catalogue import EventType
from app.events.models import WebhookEvent
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.windows.events import WINDOW_EVENTS, scan_windows
from app.windows.models import WindowEventMark
from tests.support.factories import T0, Clinic, FakeClock, bootstrap, iso

MICRO = timedelta(microseconds=1)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
OPENED = EventType.window_opened.value
CLOSING = EventType.window_closing_unbooked.value
MISSED = EventType.window_missed.value
WINDOW_TYPES = [event.value for event in WINDOW_EVENTS]
PAYLOAD_KEYS = {
    "dose_id",
    "client_id",
    "clinician_id",
    "route",
    "window_opens_at",
    "window_closes_at",
    "integration_status",
    "version",
}


def z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class Emitted:
    type: str
    data: dict[str, Any]
    occurred_at: datetime
    endpoint_ids: set[uuid.UUID]
    deliveries: list[WebhookDelivery]


@dataclass
class Hooks:
    """Endpoints written straight into the database, scans, and what they emitted."""

    app: FastAPI
    clinic_ids: set[uuid.UUID] = field(default_factory=set)

    async def subscribe(
        self,
        clinic: Clinic,
        event_types: Sequence[str] = tuple(WINDOW_TYPES),
        *,
        enabled: bool = True,
        deleted: bool = False,
    ) -> uuid.UUID:
        clinic_id = uuid.UUID(clinic.id)
        self.clinic_ids.add(clinic_id)
        endpoint = WebhookEndpoint(
            clinic_id=clinic_id,
            url="https://receiver.example/hooks",
            event_types=list(event_types),
            enabled=enabled,
            secret_ciphertext=b"x",
            deleted_at=T0 if deleted else None,
        )
        async with self.app.state.sessionmaker() as db:
            await begin_write(db)
            db.add(endpoint)
            await db.commit()
        return endpoint.id

    async def scan_once(self, now: datetime) -> int:
        async with self.app.state.sessionmaker() as db:
            await begin_write(db)
            emitted = await scan_windows(db, now)
            await db.commit()
        return emitted

    async def window_event_count(self) -> int:
        """Window events of every clinic in the database."""
        async with self.app.state.sessionmaker() as db:
            query = select(func.count()).where(WebhookEvent.type.in_(WINDOW_TYPES))
            return int((await db.execute(query)).scalar_one())

    async def scan(self, now: datetime) -> int:
        """One scan; its return value must be the number of window events it wrote."""
        before = await self.window_event_count()
        emitted = await self.scan_once(now)
        assert emitted == await self.window_event_count() - before
        return emitted

    async def events(self, clinic: Clinic) -> list[Emitted]:
        """The clinic's window events with their deliveries, in emission order."""
        clinic_id = uuid.UUID(clinic.id)
        async with self.app.state.sessionmaker() as db:
            events = (
                await db.scalars(
                    select(WebhookEvent).where(
                        WebhookEvent.clinic_id == clinic_id, WebhookEvent.type.in_(WINDOW_TYPES)
                    )
                )
            ).all()
            deliveries = (
                await db.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.clinic_id == clinic_id)
                )
            ).all()
        by_event: dict[uuid.UUID, list[WebhookDelivery]] = {}
        for delivery in deliveries:
            by_event.setdefault(delivery.event_id, []).append(delivery)
        found = [
            Emitted(
                type=event.type,
                data=event.data,
                occurred_at=event.occurred_at,
                endpoint_ids={d.endpoint_id for d in by_event.get(event.id, [])},
                deliveries=by_event.get(event.id, []),
            )
            for event in events
        ]
        found.sort(key=lambda e: (e.occurred_at, WINDOW_TYPES.index(e.type), e.data["dose_id"]))
        return found

    async def types(self, clinic: Clinic) -> list[str]:
        return [event.type for event in await self.events(clinic)]

    async def mark_count(self, clinic: Clinic) -> int:
        async with self.app.state.sessionmaker() as db:
            query = select(func.count()).where(WindowEventMark.clinic_id == uuid.UUID(clinic.id))
            return int((await db.execute(query)).scalar_one())

    async def tidy(self) -> None:
        """Leave nothing for tests that run dispatchers or scanners over the shared database."""
        if not self.clinic_ids:
            return
        async with self.app.state.sessionmaker() as db:
            await begin_write(db)
            await db.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.clinic_id.in_(self.clinic_ids))
                .values(enabled=False, deleted_at=T0)
            )
            await db.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.clinic_id.in_(self.clinic_ids),
                    WebhookDelivery.status == DeliveryStatus.pending.value,
                )
                .values(status=DeliveryStatus.failed.value, completed_at=T0)
            )
            await db.commit()


@pytest.fixture
async def hooks(app: FastAPI) -> AsyncIterator[Hooks]:
    made = Hooks(app)
    yield made
    await made.tidy()


async def iv_dose(clinic: Clinic, starts_at: datetime = T0 + DAY, **extra: Any) -> dict[str, Any]:
    """A 2 h IV dose of a new, prepared client: its window is [ends_at, ends_at + 72 h]."""
    client = await clinic.prepared_client()
    return await clinic.dose(client["id"], starts_at, **extra)


def bounds(dose: dict[str, Any]) -> tuple[datetime, datetime]:
    ends = at(dose["ends_at"])
    return ends, ends + 72 * HOUR


async def test_opened_fires_once_when_the_dose_ends(clinic: Clinic, hooks: Hooks) -> None:
    endpoint_id = await hooks.subscribe(clinic)
    dose = await iv_dose(clinic)
    opens, closes = bounds(dose)

    await hooks.scan(opens - MICRO)
    assert await hooks.events(clinic) == []

    await hooks.scan(opens)
    await hooks.scan(opens)
    await hooks.scan(opens + HOUR)
    [opened] = await hooks.events(clinic)
    assert opened.type == OPENED
    assert opened.occurred_at == opens
    assert opened.data == {
        "dose_id": dose["id"],
        "client_id": dose["client_id"],
        "clinician_id": dose["clinician_id"],
        "route": "iv",
        "window_opens_at": z(opens),
        "window_closes_at": z(closes),
        "integration_status": "unbooked",
        "version": dose["version"],
    }
    [delivery] = opened.deliveries
    assert delivery.endpoint_id == endpoint_id
    assert delivery.status == "pending"
    assert delivery.next_attempt_at == opens
    assert delivery.attempt_count == 0


async def test_window_lifecycle_opened_closing_missed_each_once(
    clinic: Clinic, hooks: Hooks
) -> None:
    everything = await hooks.subscribe(clinic)
    only_closing = await hooks.subscribe(clinic, [CLOSING, EventType.session_scheduled.value])
    dose = await iv_dose(clinic)
    opens, closes = bounds(dose)

    for now in (opens, opens + DAY, closes - DAY - MICRO):
        await hooks.scan(now)
    assert await hooks.types(clinic) == [OPENED]
    for now in (closes - DAY, closes - DAY, closes - HOUR, closes):
        await hooks.scan(now)
    assert await hooks.types(clinic) == [OPENED, CLOSING]
    for now in (closes + MICRO, closes + MICRO, closes + DAY, closes + 6 * DAY):
        await hooks.scan(now)
    events = await hooks.events(clinic)
    assert [e.type for e in events] == [OPENED, CLOSING, MISSED]
    assert [e.occurred_at for e in events] == [opens, closes - DAY, closes + MICRO]
    assert [e.data["integration_status"] for e in events] == ["unbooked", "unbooked", "missed"]
    for event in events:
        assert (event.data["window_opens_at"], event.data["window_closes_at"]) == (
            z(opens),
            z(closes),
        )
    # One delivery per subscribed endpoint.
    assert [e.endpoint_ids for e in events] == [
        {everything},
        {everything, only_closing},
        {everything},
    ]


async def test_first_scan_after_the_close_sends_only_missed(clinic: Clinic, hooks: Hooks) -> None:
    await hooks.subscribe(clinic)
    dose = await iv_dose(clinic)
    _, closes = bounds(dose)
    await hooks.scan(closes + HOUR)
    await hooks.scan(closes + 2 * HOUR)
    assert await hooks.types(clinic) == [MISSED]


async def test_first_scan_in_the_last_day_sends_opened_and_closing(
    clinic: Clinic, hooks: Hooks
) -> None:
    await hooks.subscribe(clinic)
    dose = await iv_dose(clinic)
    _, closes = bounds(dose)
    assert await hooks.scan(closes - HOUR) >= 2
    assert await hooks.types(clinic) == [OPENED, CLOSING]


async def test_no_closing_or_missed_when_integration_is_booked_in_window(
    clinic: Clinic, hooks: Hooks
) -> None:
    await hooks.subscribe(clinic)
    dose = await iv_dose(clinic)
    opens, closes = bounds(dose)
    integration = await clinic.integration(dose["client_id"], opens + DAY)

    for now in (opens, closes - DAY, closes - HOUR, closes, closes + SECOND, closes + DAY):
        await hooks.scan(now)
    [opened] = await hooks.events(clinic)
    assert opened.type == OPENED
    assert opened.data["integration_status"] == "booked_in_window"

    # Cancelling the booking makes the window unbooked again: the rule is read afresh.
    await clinic.action("integration", integration["id"], "cancel", reason="client ill")
    await hooks.scan(closes - HOUR)
    await hooks.scan(closes + SECOND)
    assert await hooks.types(clinic) == [OPENED, CLOSING, MISSED]


async def test_completed_dose_anchors_on_its_recorded_end(
    clinic: Clinic, hooks: Hooks, clock: FakeClock
) -> None:
    await hooks.subscribe(clinic)
    dose = await iv_dose(clinic)
    ends = at(dose["ends_at"])
    ended_at = ends - 30 * 60 * SECOND
    clock.set(ends + HOUR)
    await clinic.action("ketamine", dose["id"], "complete", ended_at=iso(ended_at))

    await hooks.scan(ended_at - MICRO)
    assert await hooks.events(clinic) == []
    await hooks.scan(ended_at)
    [opened] = await hooks.events(clinic)
    assert (opened.data["window_opens_at"], opened.data["window_closes_at"]) == (
        z(ended_at),
        z(ended_at + 72 * HOUR),
    )
    assert opened.data["version"] == 2


async def test_rescheduled_dose_gets_events_for_its_new_window(
    clinic: Clinic, hooks: Hooks
) -> None:
    await hooks.subscribe(clinic)
    dose = await iv_dose(clinic)
    old_opens, _ = bounds(dose)
    await hooks.scan(old_opens)

    moved_to = T0 + 3 * DAY
    moved = await clinic.ok(
        "PATCH",
        f"/api/v1/ketamine-sessions/{dose['id']}",
        json={"starts_at": iso(moved_to), "ends_at": iso(moved_to + 2 * HOUR)},
    )
    new_opens, new_closes = bounds(moved)
    await hooks.scan(old_opens + HOUR)  # the old window no longer exists
    await hooks.scan(new_opens - MICRO)
    assert await hooks.types(clinic) == [OPENED]

    await hooks.scan(new_opens)
    await hooks.scan(new_opens + HOUR)
    first, second = await hooks.events(clinic)
    assert (first.type, second.type) == (OPENED, OPENED)
    assert first.data["window_opens_at"] == z(old_opens)
    assert (second.data["window_opens_at"], second.data["window_closes_at"]) == (
        z(new_opens),
        z(new_closes),
    )
    assert (first.data["version"], second.data["version"]) == (1, moved["version"])


async def test_closing_soon_policy_change_moves_the_alert(clinic: Clinic, hooks: Hooks) -> None:
    await hooks.subscribe(clinic)
    dose = await iv_dose(clinic)
    _, closes = bounds(dose)

    await hooks.scan(closes - 30 * HOUR)
    assert await hooks.types(clinic) == [OPENED]
    await clinic.ok("PATCH", "/api/v1/clinic", json={"window_policy": {"closing_soon_hours": 36}})
    await hooks.scan(closes - 30 * HOUR)
    closing = (await hooks.events(clinic))[-1]
    assert closing.type == CLOSING
    assert closing.occurred_at == closes - 30 * HOUR

    # A shorter alert lead for another dose: nothing until closes_at - 6 h.
    await clinic.ok("PATCH", "/api/v1/clinic", json={"window_policy": {"closing_soon_hours": 6}})
    other = await iv_dose(clinic, T0 + 10 * DAY)
    _, other_closes = bounds(other)
    await hooks.scan(other_closes - 6 * HOUR - MICRO)
    await hooks.scan(other_closes - 6 * HOUR)
    mine = [e for e in await hooks.events(clinic) if e.data["dose_id"] == other["id"]]
    assert [(e.type, e.occurred_at) for e in mine] == [
        (OPENED, other_closes - 6 * HOUR - MICRO),
        (CLOSING, other_closes - 6 * HOUR),
    ]


async def test_clinics_without_subscribed_endpoints_are_skipped(
    clinic: Clinic, hooks: Hooks, app: FastAPI, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    unsubscribed = await bootstrap(app, http, clock)
    await hooks.subscribe(unsubscribed, [EventType.session_scheduled.value])
    disabled = await bootstrap(app, http, clock)
    await hooks.subscribe(disabled, enabled=False)
    deleted = await bootstrap(app, http, clock)
    await hooks.subscribe(deleted, deleted=True)
    silent = [clinic, unsubscribed, disabled, deleted]  # `clinic` has no endpoint at all
    doses = [await iv_dose(each) for each in silent]
    opens, _ = bounds(doses[0])

    await hooks.scan(opens + HOUR)
    for each in silent:
        assert await hooks.events(each) == []
        assert await hooks.mark_count(each) == 0

    # Nothing was used up: an endpoint added later hears about windows still open.
    await hooks.subscribe(clinic)
    await hooks.scan(opens + 2 * HOUR)
    [opened] = await hooks.events(clinic)
    assert opened.type == OPENED
    assert opened.data["dose_id"] == doses[0]["id"]


async def test_old_doses_do_not_flood_a_first_scan(
    clinic: Clinic, hooks: Hooks, clock: FakeClock
) -> None:
    await hooks.subscribe(clinic)
    client = await clinic.prepared_client(prep_at=T0 - 200 * DAY)
    months_ago = [await clinic.dose(client["id"], T0 - days * DAY) for days in range(120, 20, -7)]
    await clinic.dose(client["id"], T0 - 12 * DAY)  # closed 9 days ago: past the lookback
    recent = await clinic.dose(client["id"], T0 - 10 * DAY)
    ended_at = at(recent["starts_at"]) + HOUR
    await clinic.action("ketamine", recent["id"], "complete", ended_at=iso(ended_at))
    assert clock.now == T0

    await hooks.scan(T0)
    await hooks.scan(T0 + HOUR)
    [missed] = await hooks.events(clinic)
    assert missed.type == MISSED
    assert missed.data["dose_id"] == recent["id"]
    assert missed.data["window_closes_at"] == z(ended_at + 72 * HOUR)
    assert await hooks.mark_count(clinic) == 1  # nothing recorded for the older windows
    assert len(months_ago) == 15


async def test_payloads_carry_no_names_contacts_doses_or_notes(
    clinic: Clinic, hooks: Hooks
) -> None:
    await hooks.subscribe(clinic)
    client = await clinic.prepared_client(
        first_name="Zebediah",
        last_name="Quillfeather",
        preferred_name="Zebby",
        email="zebediah.quillfeather@example.org",
        phone="+1 555 0199 4242",
    )
    dose = await clinic.dose(
        client["id"],
        T0 + DAY,
        route="sublingual",
        dose_mg=37.5,
        weight_kg=81.3,
        notes="confidential-note-7f3a",
    )
    opens = at(dose["ends_at"])
    closes = opens + 168 * HOUR
    for now in (opens, closes - HOUR, closes + HOUR):
        await hooks.scan(now)
    events = await hooks.events(clinic)
    assert [e.type for e in events] == [OPENED, CLOSING, MISSED]
    for event in events:
        assert set(event.data) == PAYLOAD_KEYS
        assert event.data["route"] == "sublingual"
        assert event.data["window_closes_at"] == z(closes)
        text = json.dumps(event.data).lower()
        for secret in ("zebediah", "quillfeather", "zebby", "example.org", "4242", "37.5", "81.3"):
            assert secret not in text
        assert "confidential" not in text


async def test_concurrent_scans_emit_each_event_once(
    clinic: Clinic, hooks: Hooks, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    await hooks.subscribe(clinic)
    doses = [await iv_dose(clinic) for _ in range(4)]
    _, closes = bounds(doses[0])

    for now in (closes - HOUR, closes + SECOND):
        before = await hooks.window_event_count()
        results = await asyncio.gather(*(hooks.scan_once(now) for _ in range(3)))
        assert sum(results) == await hooks.window_event_count() - before
    events = await hooks.events(clinic)
    seen = [(e.data["dose_id"], e.type) for e in events]
    assert sorted(seen) == sorted((d["id"], t) for d in doses for t in (OPENED, CLOSING, MISSED))
    assert all(len(e.deliveries) == 1 for e in events)
