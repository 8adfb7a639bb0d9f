"""Moving doses, links, policies and recorded ends moves the window, in Python and SQL alike."""

import math
from datetime import timedelta

from tests.support.factories import T0, Clinic, FakeClock, iso
from tests.windows.support import (
    DAY,
    HOUR,
    SECOND,
    assert_dose,
    assert_window,
    dose_integration,
    move,
    set_policy,
    window,
    z,
)

# --- Moving things ------------------------------------------------------------------------------


async def test_rescheduling_the_dose_moves_the_window(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    integration = await clinic.integration(client["id"], T0 + DAY + 50 * HOUR)
    await assert_window(clinic, integration["id"], "in_window")
    await assert_dose(clinic, dose["id"], "booked_in_window")

    # 30 hours earlier: the session is now 78 h after the dose's end.
    moved = await move(clinic, "ketamine", dose["id"], T0 + DAY - 30 * HOUR, hours=2)
    assert moved["integration"]["window_closes_at"] == z(T0 + DAY - 28 * HOUR + 72 * HOUR)
    evaluated = await assert_window(clinic, integration["id"], "after_window")
    assert evaluated["hours_after_dose"] == 78.0
    await assert_dose(clinic, dose["id"], "unbooked")

    # Exactly to the edge: the session starts exactly when the window closes.
    await move(clinic, "ketamine", dose["id"], T0 + DAY - 24 * HOUR, hours=2)
    await assert_window(clinic, integration["id"], "in_window")
    await move(clinic, "ketamine", dose["id"], T0 + DAY - 24 * HOUR - SECOND, hours=2)
    await assert_window(clinic, integration["id"], "after_window")

    # After the session: an inferred anchor must start no later than the session.
    await move(clinic, "ketamine", dose["id"], T0 + DAY + 55 * HOUR, hours=2)
    evaluated = await assert_window(clinic, integration["id"], "no_ketamine_session")
    assert evaluated == {
        "status": "no_ketamine_session",
        "ketamine_session_id": None,
        "linked": False,
        "hours_after_dose": None,
        "opens_at": None,
        "closes_at": None,
    }

    # Linked explicitly, the later dose anchors it and the session is before its window.
    await clinic.ok(
        "PATCH",
        f"/api/v1/integration-sessions/{integration['id']}",
        json={"ketamine_session_id": dose["id"]},
    )
    evaluated = await assert_window(clinic, integration["id"], "before_window")
    assert evaluated["linked"] is True
    assert evaluated["ketamine_session_id"] == dose["id"]
    assert evaluated["hours_after_dose"] == -7.0
    await assert_dose(clinic, dose["id"], "unbooked")
    assert (await dose_integration(clinic, dose["id"]))["integration_session_ids"] == [
        integration["id"]
    ]

    # Unlinking hands it back to inference, which finds no earlier dose.
    await clinic.ok(
        "PATCH",
        f"/api/v1/integration-sessions/{integration['id']}",
        json={"ketamine_session_id": None},
    )
    await assert_window(clinic, integration["id"], "no_ketamine_session")
    assert (await dose_integration(clinic, dose["id"]))["integration_session_ids"] == []


async def test_a_policy_change_flips_the_evaluation(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    ends = T0 + DAY + 2 * HOUR
    integration = await clinic.integration(client["id"], ends + 80 * HOUR)
    await assert_window(clinic, integration["id"], "after_window")
    await assert_dose(clinic, dose["id"], "unbooked")

    policy = await set_policy(clinic, closes_after_hours={"iv": 96})
    assert policy["window_policy"]["closes_after_hours"]["iv"] == 96
    assert policy["window_policy"]["closes_after_hours"]["im"] == 72
    evaluated = await assert_window(clinic, integration["id"], "in_window")
    assert evaluated["closes_at"] == z(ends + 96 * HOUR)
    await assert_dose(clinic, dose["id"], "booked_in_window")

    # Opening 80 h + 1 s after the dose puts it just before the window (every route must
    # still close after it opens).
    await set_policy(
        clinic,
        opens_after_hours=80 + 1 / 3600,
        closes_after_hours={"im": 96, "intranasal": 96},
    )
    evaluated = await assert_window(clinic, integration["id"], "before_window")
    assert evaluated["opens_at"] == z(ends + 80 * HOUR + SECOND)
    await assert_dose(clinic, dose["id"], "unbooked")

    await set_policy(clinic, opens_after_hours=80)
    await assert_window(clinic, integration["id"], "in_window")

    # A route the dose does not use changes nothing.
    await set_policy(clinic, closes_after_hours={"sublingual": 81})
    await assert_window(clinic, integration["id"], "in_window")
    # Sublingual does.
    await clinic.ok(
        "PATCH", f"/api/v1/ketamine-sessions/{dose['id']}", json={"route": "sublingual"}
    )
    await assert_window(clinic, integration["id"], "in_window")
    await set_policy(clinic, closes_after_hours={"sublingual": 80.5})
    await assert_window(clinic, integration["id"], "in_window")
    await set_policy(clinic, opens_after_hours=0, closes_after_hours={"sublingual": 79.75})
    await assert_window(clinic, integration["id"], "after_window")


async def test_cancelling_the_dose_removes_its_anchor(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    earlier = await clinic.dose(client["id"], T0 - 5 * DAY)
    dose = await clinic.dose(client["id"], T0 + DAY)
    linked = await clinic.integration(client["id"], T0 + 2 * DAY, ketamine_session_id=dose["id"])
    inferred = await clinic.integration(client["id"], T0 + 2 * DAY + 2 * HOUR)
    assert (await window(clinic, linked["id"]))["linked"] is True
    assert (await window(clinic, inferred["id"]))["ketamine_session_id"] == dose["id"]
    await assert_dose(clinic, dose["id"], "booked_in_window")

    await clinic.action("ketamine", dose["id"], "cancel", reason="Client unwell")

    cancelled = await assert_dose(clinic, dose["id"], "not_applicable")
    assert cancelled == {
        "status": "not_applicable",
        "window_opens_at": None,
        "window_closes_at": None,
        "integration_session_ids": [],
    }
    for session in (linked, inferred):
        evaluated = await assert_window(clinic, session["id"], "after_window")
        assert evaluated["ketamine_session_id"] == earlier["id"]
        assert evaluated["linked"] is False
    # The link itself is kept: it just no longer anchors.
    body = await clinic.ok("GET", f"/api/v1/integration-sessions/{linked['id']}")
    assert body["ketamine_session_id"] == dose["id"]
    await assert_dose(clinic, earlier["id"], "missed")

    # With no other dose there is no anchor at all.
    other = await clinic.prepared_client(first_name="Ola")
    only = await clinic.dose(other["id"], T0 + DAY)
    after = await clinic.integration(other["id"], T0 + 2 * DAY, ketamine_session_id=only["id"])
    await clinic.action("ketamine", only["id"], "cancel", reason="Rebooking")
    await assert_window(clinic, after["id"], "no_ketamine_session")


async def test_a_no_show_dose_does_not_anchor(clinic: Clinic, clock: FakeClock) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    integration = await clinic.integration(client["id"], T0 + 2 * DAY)
    clock.set(T0 + DAY + HOUR)
    await clinic.action("ketamine", dose["id"], "no-show")
    await assert_dose(clinic, dose["id"], "not_applicable")
    await assert_window(clinic, integration["id"], "no_ketamine_session")


async def test_a_dose_that_ran_over_moves_the_window_later(
    clinic: Clinic, clock: FakeClock
) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    ends = T0 + DAY + 2 * HOUR
    clock.set(ends + HOUR)
    ended_at = ends + 10 * SECOND
    await clinic.action("ketamine", dose["id"], "complete", ended_at=iso(ended_at))

    # Bookable right after the scheduled end (no overlap), yet before the recorded end.
    early = await clinic.integration(client["id"], ends + 9 * SECOND)
    evaluated = await assert_window(clinic, early["id"], "before_window")
    assert evaluated["opens_at"] == z(ended_at)
    # -1 s is -0.0003 h: it rounds to zero, and zero has no sign on the wire.
    assert evaluated["hours_after_dose"] == 0.0
    assert math.copysign(1.0, evaluated["hours_after_dose"]) == 1.0
    response = await clinic.get(f"/api/v1/integration-sessions/{early['id']}")
    assert '"hours_after_dose":0.0' in response.text

    await move(clinic, "integration", early["id"], ended_at)
    await assert_window(clinic, early["id"], "in_window")
    await assert_dose(clinic, dose["id"], "booked_in_window")


async def test_completing_with_ended_at_moves_the_window(clinic: Clinic, clock: FakeClock) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    ends = T0 + DAY + 2 * HOUR
    integration = await clinic.integration(client["id"], ends + timedelta(hours=71, minutes=30))
    evaluated = await assert_window(clinic, integration["id"], "in_window")
    assert evaluated["hours_after_dose"] == 71.5

    clock.set(ends + timedelta(minutes=30))
    ended_at = ends - HOUR + timedelta(microseconds=250_000)
    completed = await clinic.action("ketamine", dose["id"], "complete", ended_at=iso(ended_at))
    assert completed["ended_at"] == z(ended_at)
    assert completed["integration"]["window_opens_at"] == z(ended_at)
    assert completed["integration"]["window_closes_at"] == z(ended_at + 72 * HOUR)
    assert completed["integration"]["status"] == "unbooked"

    evaluated = await assert_window(clinic, integration["id"], "after_window")
    assert evaluated["opens_at"] == z(ended_at)
    assert evaluated["hours_after_dose"] == 72.5
    await assert_dose(clinic, dose["id"], "unbooked")

    # Completing without ended_at keeps the scheduled end as the anchor.
    other = await clinic.prepared_client(first_name="Ola")
    second = await clinic.dose(other["id"], T0 + DAY)
    kept = await clinic.integration(other["id"], ends + timedelta(hours=71, minutes=30))
    clock.set(ends + timedelta(minutes=30))
    completed = await clinic.action("ketamine", second["id"], "complete")
    assert completed["ended_at"] is None
    assert completed["integration"]["window_closes_at"] == z(ends + 72 * HOUR)
    await assert_window(clinic, kept["id"], "in_window")
    await assert_dose(clinic, second["id"], "booked_in_window")
