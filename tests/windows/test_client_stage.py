"""The client's stage as the journey moves on: GET, the journey and the `stage` filter agree."""

import pytest

from tests.support.factories import T0, Clinic, FakeClock, iso
from tests.windows.support import DAY, HOUR, MICRO, SECOND, STAGES, assert_stage, set_policy, walk

# --- Client stage -------------------------------------------------------------------------------


async def test_stage_follows_the_journey(clinic: Clinic, clock: FakeClock) -> None:
    client = await clinic.client()
    client_id = client["id"]
    assert client["stage"] == "intake"
    await assert_stage(clinic, client_id, "intake")

    prep = await clinic.prep(client_id, T0 + DAY)
    await assert_stage(clinic, client_id, "preparation")
    clock.set(T0 + DAY + HOUR)
    await clinic.action("preparation", prep["id"], "complete")
    await clinic.clear_for_dosing(client_id, T0 + DAY + HOUR)
    await assert_stage(clinic, client_id, "preparation")

    dose = await clinic.dose(client_id, T0 + 2 * DAY)
    await assert_stage(clinic, client_id, "preparation")  # a dose booked, none completed
    clock.set(T0 + 2 * DAY + 3 * HOUR)
    await clinic.action("ketamine", dose["id"], "complete")
    await assert_stage(clinic, client_id, "active_treatment")

    closes = T0 + 2 * DAY + 2 * HOUR + 72 * HOUR
    clock.set(closes)
    await assert_stage(clinic, client_id, "active_treatment")
    clock.set(closes + SECOND)
    await assert_stage(clinic, client_id, "maintenance")

    booster = await clinic.dose(client_id, T0 + 30 * DAY)
    await assert_stage(clinic, client_id, "active_treatment")
    await clinic.action("ketamine", booster["id"], "cancel", reason="Doing well")
    await assert_stage(clinic, client_id, "maintenance")

    # Booking integration after the window does not bring treatment back.
    await clinic.integration(client_id, closes + DAY)
    await assert_stage(clinic, client_id, "maintenance")


async def test_stage_of_the_latest_dose_uses_its_recorded_end(
    clinic: Clinic, clock: FakeClock
) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    ended_at = T0 + DAY + HOUR
    clock.set(T0 + DAY + 3 * HOUR)
    await clinic.action("ketamine", dose["id"], "complete", ended_at=iso(ended_at))
    clock.set(ended_at + 72 * HOUR)
    await assert_stage(clinic, client["id"], "active_treatment")
    clock.set(ended_at + 72 * HOUR + MICRO)
    await assert_stage(clinic, client["id"], "maintenance")
    # A longer window for the route (policy) reopens treatment.
    await set_policy(clinic, closes_after_hours={"iv": 73})
    await assert_stage(clinic, client["id"], "active_treatment")


async def test_stage_ignores_cancelled_sessions(clinic: Clinic) -> None:
    client = await clinic.client()
    prep = await clinic.prep(client["id"], T0 + DAY)
    await clinic.action("preparation", prep["id"], "cancel", reason="Rebooking")
    await assert_stage(clinic, client["id"], "intake")


@pytest.mark.parametrize("stage", STAGES)
async def test_stage_filter_lists_exactly_the_clients_in_that_stage(
    clinic: Clinic, clock: FakeClock, stage: str
) -> None:
    intake = await clinic.client(first_name="Intake")
    preparing = await clinic.prepared_client(first_name="Preparing")
    active = await clinic.prepared_client(first_name="Active")
    done = await clinic.prepared_client(first_name="Done")
    booked = await clinic.dose(active["id"], T0 + DAY)
    past = await clinic.dose(done["id"], T0 - 5 * DAY)
    await clinic.action("ketamine", past["id"], "complete")
    clock.set(T0 + DAY + HOUR)
    await clinic.action("ketamine", booked["id"], "complete")

    by_stage = {
        "intake": intake,
        "preparation": preparing,
        "active_treatment": active,
        "maintenance": done,
    }
    listed = await walk(clinic, "/api/v1/clients", limit=1, stage=stage)
    assert [c["id"] for c in listed] == [by_stage[stage]["id"]]
    assert listed[0]["stage"] == stage
