"""Unbooked windows turning missed as the clock passes, and the journey's window alerts."""

from tests.support.factories import T0, Clinic, FakeClock
from tests.windows.support import (
    DAY,
    HOUR,
    MICRO,
    SECOND,
    assert_dose,
    assert_window,
    at,
    move,
    window_alerts,
)

# --- Time passing -------------------------------------------------------------------------------


async def test_unbooked_turns_missed_as_the_clock_passes_the_close(
    clinic: Clinic, clock: FakeClock
) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    closes = T0 + DAY + 74 * HOUR
    booked_dose = await clinic.dose(client["id"], T0 + 10 * DAY)
    await clinic.integration(client["id"], T0 + 10 * DAY + 3 * HOUR)

    async def alerts() -> set[tuple[str, str]]:
        journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
        return window_alerts(journey)

    await assert_dose(clinic, dose["id"], "unbooked")
    assert await alerts() == {("integration_unbooked", dose["id"])}

    clock.set(closes - SECOND)
    await assert_dose(clinic, dose["id"], "unbooked")
    clock.set(closes)
    await assert_dose(clinic, dose["id"], "unbooked")
    assert await alerts() == {("integration_unbooked", dose["id"])}

    clock.set(closes + MICRO)
    await assert_dose(clinic, dose["id"], "missed")
    assert await alerts() == {("integration_missed", dose["id"])}

    clock.advance(30 * DAY)
    await assert_dose(clinic, dose["id"], "missed")
    await assert_dose(clinic, booked_dose["id"], "booked_in_window")

    # Booking late does not rescue it: the session is after the window.
    late = await clinic.integration(client["id"], closes + HOUR)
    await assert_window(clinic, late["id"], "after_window")
    await assert_dose(clinic, dose["id"], "missed")


async def test_journey_alerts(clinic: Clinic, clock: FakeClock) -> None:
    client = await clinic.prepared_client()
    past = await clinic.dose(client["id"], T0 - 8 * DAY)
    await clinic.action("ketamine", past["id"], "complete")
    done_late = await clinic.integration(client["id"], T0 - 8 * DAY + 100 * HOUR)
    await clinic.action("integration", done_late["id"], "complete")
    cancelled = await clinic.dose(client["id"], T0 - 2 * DAY)
    await clinic.action("ketamine", cancelled["id"], "cancel", reason="Unwell")
    upcoming = await clinic.dose(client["id"], T0 + DAY)
    late = await clinic.integration(client["id"], T0 + DAY + 80 * HOUR)
    cancelled_late = await clinic.integration(client["id"], T0 + DAY + 90 * HOUR)
    await clinic.action("integration", cancelled_late["id"], "cancel", reason="Moved")
    booked = await clinic.dose(client["id"], T0 + 10 * DAY, route="sublingual")
    in_window = await clinic.integration(client["id"], T0 + 11 * DAY)

    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    assert journey["client_id"] == client["id"]
    starts = [at(s["starts_at"]) for s in journey["sessions"]]
    assert starts == sorted(starts)
    codes = window_alerts(journey)
    assert codes == {
        ("integration_missed", past["id"]),
        ("integration_unbooked", upcoming["id"]),
        ("integration_outside_window", late["id"]),
    }
    for alert in journey["alerts"]:
        assert alert["detail"]

    by_id = {s["id"]: s for s in journey["sessions"]}
    assert by_id[booked["id"]]["integration"]["status"] == "booked_in_window"
    assert by_id[in_window["id"]]["window"]["status"] == "in_window"
    assert by_id[done_late["id"]]["window"]["status"] == "after_window"
    assert by_id[cancelled["id"]]["integration"]["status"] == "not_applicable"

    # Rescheduling the late session into the window clears its alert and books the dose.
    await move(clinic, "integration", late["id"], T0 + DAY + 70 * HOUR)
    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    codes = window_alerts(journey)
    assert codes == {("integration_missed", past["id"])}

    # A session with no dose at all is outside any window.
    lone = await clinic.client(first_name="Lone")
    orphan = await clinic.integration(lone["id"], T0 + DAY)
    journey = await clinic.ok("GET", f"/api/v1/clients/{lone['id']}/journey")
    assert [(a["code"], a["session_id"]) for a in journey["alerts"]] == [
        ("integration_outside_window", orphan["id"])
    ]


def _z(value: object) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%SZ}"


async def test_window_alerts_read_as_a_person_would_write_them(clinic: Clinic) -> None:
    """Each window alert says what is wrong and when, in words, not in status codes."""
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)  # ends 2 h later; the window is 72 h
    closes = T0 + DAY + 74 * HOUR
    late = await clinic.integration(client["id"], closes + HOUR)
    unbooked = await clinic.dose(client["id"], T0 + 10 * DAY)
    lone = await clinic.client(first_name="Lone")
    orphan = await clinic.integration(lone["id"], T0 + DAY)

    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    details = {(a["code"], a["session_id"]): a["detail"] for a in journey["alerts"]}
    assert details[("integration_outside_window", late["id"])] == (
        f"This integration session starts after its dose's window closed at {_z(closes)}."
    )
    assert details[("integration_unbooked", unbooked["id"])] == (
        "No integration session is booked in this dose's window, which closes "
        f"{_z(T0 + 10 * DAY + 74 * HOUR)}."
    )
    assert details[("integration_unbooked", dose["id"])].endswith(f"closes {_z(closes)}.")
    lone_journey = await clinic.ok("GET", f"/api/v1/clients/{lone['id']}/journey")
    assert [a["detail"] for a in lone_journey["alerts"]] == [
        "This integration session has no ketamine session before it, so no window to be in."
    ]
    assert orphan["id"] == lone_journey["alerts"][0]["session_id"]
