"""The window scanner: which clinics and doses it skips, what payloads hold, concurrent scans."""

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI

from app.events.catalogue import EventType
from tests.support.factories import T0, Clinic, FakeClock, bootstrap, iso
from tests.windows.events_support import (
    CLOSING,
    MISSED,
    OPENED,
    PAYLOAD_KEYS,
    Hooks,
    bounds,
    iv_dose,
)
from tests.windows.support import DAY, HOUR, SECOND, at, z


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
