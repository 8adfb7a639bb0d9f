"""Window boundaries through the API, to the second and the microsecond, in Python and SQL."""

from datetime import timedelta, timezone

import pytest

from tests.support.factories import T0, Clinic, FakeClock, iso
from tests.windows.support import (
    DAY,
    HOUR,
    MICRO,
    SECOND,
    assert_dose,
    assert_window,
    move,
    set_policy,
    z,
)

# --- Boundaries ---------------------------------------------------------------------------------


async def test_window_boundaries_to_the_second(clinic: Clinic) -> None:
    await set_policy(clinic, opens_after_hours=1)
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    ends = T0 + DAY + 2 * HOUR
    opens, closes = ends + HOUR, ends + 72 * HOUR
    assert dose["integration"]["window_opens_at"] == z(opens)
    assert dose["integration"]["window_closes_at"] == z(closes)

    created = await clinic.integration(client["id"], opens)
    assert created["window"] == {
        "status": "in_window",
        "ketamine_session_id": dose["id"],
        "linked": False,
        "hours_after_dose": 1.0,
        "opens_at": z(opens),
        "closes_at": z(closes),
    }
    session_id = created["id"]
    await assert_window(clinic, session_id, "in_window")
    await assert_dose(clinic, dose["id"], "booked_in_window")

    moved = await move(clinic, "integration", session_id, opens - SECOND)
    assert moved["window"]["status"] == "before_window"
    assert moved["window"]["hours_after_dose"] == 1.0  # 0:59:59 rounds up, still before
    await assert_window(clinic, session_id, "before_window")
    await assert_dose(clinic, dose["id"], "unbooked")

    await move(clinic, "integration", session_id, closes)
    await assert_window(clinic, session_id, "in_window")
    await assert_dose(clinic, dose["id"], "booked_in_window")

    await move(clinic, "integration", session_id, closes + SECOND)
    evaluated = await assert_window(clinic, session_id, "after_window")
    assert evaluated["hours_after_dose"] == 72.0
    await assert_dose(clinic, dose["id"], "unbooked")


async def test_window_boundaries_to_the_microsecond(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    starts = T0 + DAY + timedelta(microseconds=654_321)
    dose = await clinic.dose(client["id"], starts)
    closes = starts + 74 * HOUR
    assert dose["integration"]["window_closes_at"] == z(closes)
    assert z(closes).endswith(".654321Z")

    integration = await clinic.integration(client["id"], closes)
    await assert_window(clinic, integration["id"], "in_window")
    await move(clinic, "integration", integration["id"], closes + MICRO)
    await assert_window(clinic, integration["id"], "after_window")
    await move(clinic, "integration", integration["id"], starts + 2 * HOUR)
    await assert_window(clinic, integration["id"], "in_window")


@pytest.mark.parametrize("fraction_us", [500_000, 999_499, 999_500, 999_999])
async def test_sub_second_edges_just_below_a_whole_second(
    clinic: Clinic, clock: FakeClock, fraction_us: int
) -> None:
    # Regression: SQLite's strftime('%s', ts) reads the fraction at millisecond precision, so
    # '...:04.9995' and later once rounded up to the next second in SQL (1 s late, SQLite only).
    client = await clinic.prepared_client()
    starts = T0 + DAY
    ends = starts + 2 * HOUR - SECOND + timedelta(microseconds=fraction_us)
    body = {"client_id": client["id"], "starts_at": iso(starts), "ends_at": iso(ends)}
    dose = await clinic.ok("POST", "/api/v1/ketamine-sessions", 201, json={**body, "route": "iv"})
    closes = ends + 72 * HOUR
    assert dose["integration"]["window_closes_at"] == z(closes)

    at_close = await clinic.integration(client["id"], closes)
    await assert_window(clinic, at_close["id"], "in_window")
    await move(clinic, "integration", at_close["id"], closes + MICRO)
    await assert_window(clinic, at_close["id"], "after_window")
    await assert_dose(clinic, dose["id"], "unbooked")

    clock.set(closes)
    await assert_dose(clinic, dose["id"], "unbooked")
    clock.set(closes + MICRO)
    await assert_dose(clinic, dose["id"], "missed")


async def test_inputs_with_offsets_are_the_same_instants(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    local = (T0 + DAY).astimezone(timezone(timedelta(hours=-5)))
    dose = await clinic.dose(client["id"], local)
    assert dose["starts_at"] == z(T0 + DAY)
    assert dose["integration"]["window_closes_at"] == z(T0 + DAY + 74 * HOUR)
    integration = await clinic.integration(client["id"], local + 74 * HOUR)
    assert integration["window"]["status"] == "in_window"
