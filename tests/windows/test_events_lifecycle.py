"""The window scanner: which window events fire for a dose's window, when, and only once."""

from app.events.catalogue import EventType
from tests.support.factories import T0, Clinic, FakeClock, iso
from tests.windows.events_support import CLOSING, MISSED, OPENED, Hooks, bounds, iv_dose
from tests.windows.support import DAY, HOUR, MICRO, SECOND, at, z


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
