"""The window and integration status filters with pagination, and the integration worklist."""

import uuid
from typing import Any

from tests.support.factories import T0, Clinic, FakeClock, iso
from tests.windows.support import (
    DAY,
    HOUR,
    INTEGRATION_STATUSES,
    MICRO,
    SECOND,
    WINDOW_STATUSES,
    at,
    clinician,
    dose_integration,
    ids,
    integration_filter,
    move,
    ordered,
    window,
    windows_filter,
)

# --- Filters and pagination ---------------------------------------------------------------------


async def test_window_status_filter_paginates(clinic: Clinic) -> None:
    expected: dict[str, list[dict[str, Any]]] = {status: [] for status in WINDOW_STATUSES}
    first_dose = T0 + DAY
    ends = first_dose + 2 * HOUR
    # Two clients with doses at the same instant, so sessions tie on starts_at across clients.
    for name in ("Ada", "Bea"):
        client = await clinic.prepared_client(first_name=name)
        await clinic.dose(client["id"], first_dose)
        later = await clinic.dose(client["id"], T0 + 10 * DAY)
        for offset in (1, 3, 5):
            expected["in_window"].append(
                await clinic.integration(client["id"], ends + offset * HOUR)
            )
        for offset in (75, 77):
            expected["after_window"].append(
                await clinic.integration(client["id"], ends + offset * HOUR)
            )
        for offset in (0, 2):
            expected["before_window"].append(
                await clinic.integration(
                    client["id"], T0 + 8 * DAY + offset * HOUR, ketamine_session_id=later["id"]
                )
            )
    lone = await clinic.client(first_name="Cy")
    for offset in (0, 2, 4):
        expected["no_ketamine_session"].append(
            await clinic.integration(lone["id"], ends + offset * HOUR)
        )

    for status, sessions in expected.items():
        want = ordered(sessions)
        assert len(want) >= 3
        for limit in (1, 2):
            got = await windows_filter(clinic, status, limit=limit)
            assert got == want, (status, limit)
        for session_id in want:
            assert (await window(clinic, session_id))["status"] == status

    everything = await ids(clinic, "/api/v1/integration-sessions", limit=3)
    assert sorted(everything) == sorted(s["id"] for group in expected.values() for s in group)

    # Combined with other filters.
    ada = expected["in_window"][0]["client_id"]
    got = await windows_filter(clinic, "in_window", client_id=ada)
    assert got == ordered([s for s in expected["in_window"] if s["client_id"] == ada])
    got = await windows_filter(clinic, "after_window", starts_after=iso(ends + 76 * HOUR))
    assert got == ordered(
        [s for s in expected["after_window"] if at(s["starts_at"]) >= ends + 76 * HOUR]
    )
    assert len(got) == 2


async def test_integration_status_filter_paginates(clinic: Clinic, clock: FakeClock) -> None:
    expected: dict[str, list[dict[str, Any]]] = {status: [] for status in INTEGRATION_STATUSES}
    for n, name in enumerate(("Ada", "Bea", "Cy")):
        client = await clinic.prepared_client(first_name=name)
        missed = await clinic.dose(client["id"], T0 - 8 * DAY)
        expected["missed"].append(missed)
        cancelled = await clinic.dose(client["id"], T0 - 6 * DAY)
        await clinic.action("ketamine", cancelled["id"], "cancel", reason="Unwell")
        expected["not_applicable"].append(cancelled)
        for week in (1, 2):
            unbooked = await clinic.dose(client["id"], T0 + week * 7 * DAY + n * HOUR)
            expected["unbooked"].append(unbooked)
        booked = await clinic.dose(client["id"], T0 + 4 * 7 * DAY)
        await clinic.integration(client["id"], T0 + 4 * 7 * DAY + 3 * HOUR)
        expected["booked_in_window"].append(booked)

    for status, doses in expected.items():
        want = ordered(doses)
        for limit in (1, 2):
            got = await integration_filter(clinic, status, limit=limit)
            assert got == want, (status, limit)
        for dose_id in want:
            assert (await dose_integration(clinic, dose_id))["status"] == status

    # Time passes: the first week's doses close, and the filter follows the clock.
    clock.set(T0 + 7 * DAY + 2 * HOUR + 72 * HOUR + HOUR + SECOND)
    week_one = [d for d in expected["unbooked"] if at(d["starts_at"]) < T0 + 8 * DAY]
    got = await integration_filter(clinic, "missed", limit=1)
    assert got == ordered(expected["missed"] + week_one[:2])
    clock.advance(HOUR)
    got = await integration_filter(clinic, "missed", limit=1)
    assert got == ordered(expected["missed"] + week_one)
    got = await integration_filter(clinic, "unbooked", limit=1)
    assert got == ordered([d for d in expected["unbooked"] if d not in week_one])


# --- Worklist -----------------------------------------------------------------------------------


async def test_integration_worklist(clinic: Clinic) -> None:
    second = await clinician(clinic)

    slow = await clinic.prepared_client(first_name="Slow")
    sublingual = await clinic.dose(slow["id"], T0 + DAY, route="sublingual")  # closes day 8
    after = await clinic.integration(slow["id"], T0 + DAY + 2 * HOUR + 200 * HOUR)

    fast = await clinic.prepared_client(first_name="Fast")
    iv = await clinic.dose(fast["id"], T0 + 2 * DAY)  # closes day 5

    other = await clinic.prepared_client(first_name="Other")
    im = await clinic.dose(other["id"], T0 + 4 * DAY, route="im", clinician_id=second)  # day 7
    theirs = await clinic.integration(other["id"], T0 + 10 * DAY, clinician_id=second)

    booked = await clinic.prepared_client(first_name="Booked")
    await clinic.dose(booked["id"], T0 + DAY)
    await clinic.integration(booked["id"], T0 + 2 * DAY)

    missed = await clinic.prepared_client(first_name="Missed")
    old = await clinic.dose(missed["id"], T0 - 8 * DAY)
    await clinic.action("ketamine", old["id"], "complete")
    completed_late = await clinic.integration(missed["id"], T0 - 3 * DAY)
    await clinic.action("integration", completed_late["id"], "complete")
    cancelled_late = await clinic.integration(missed["id"], T0 - 2 * DAY)
    await clinic.action("integration", cancelled_late["id"], "cancel", reason="Moved")
    dropped = await clinic.dose(missed["id"], T0 + 3 * DAY)
    await clinic.action("ketamine", dropped["id"], "cancel", reason="Stopped")

    lone = await clinic.client(first_name="Lone")
    orphan = await clinic.integration(lone["id"], T0 + 3 * DAY)

    worklist = await clinic.ok("GET", "/api/v1/worklists/integration")
    assert [d["id"] for d in worklist["unbooked"]] == [iv["id"], im["id"], sublingual["id"]]
    closes = [at(d["integration"]["window_closes_at"]) for d in worklist["unbooked"]]
    assert closes == sorted(closes)
    assert all(d["integration"]["status"] == "unbooked" for d in worklist["unbooked"])
    outside = worklist["outside_window"]
    assert [s["id"] for s in outside] == [orphan["id"], after["id"], theirs["id"]]
    assert [s["window"]["status"] for s in outside] == [
        "no_ketamine_session",
        "after_window",
        "after_window",
    ]

    mine = await clinic.ok("GET", "/api/v1/worklists/integration", params={"clinician_id": second})
    assert [d["id"] for d in mine["unbooked"]] == [im["id"]]
    assert [s["id"] for s in mine["outside_window"]] == [theirs["id"]]
    nobody = await clinic.ok(
        "GET", "/api/v1/worklists/integration", params={"clinician_id": str(uuid.uuid4())}
    )
    assert nobody == {"unbooked": [], "outside_window": []}

    capped = await clinic.ok("GET", "/api/v1/worklists/integration", params={"limit": 1})
    assert [d["id"] for d in capped["unbooked"]] == [iv["id"]]
    assert [s["id"] for s in capped["outside_window"]] == [orphan["id"]]

    # Booking into the fast window takes it off the list; moving a session into its window too.
    await clinic.integration(fast["id"], T0 + 3 * DAY + 2 * HOUR)
    await move(clinic, "integration", after["id"], T0 + 3 * DAY)
    worklist = await clinic.ok("GET", "/api/v1/worklists/integration")
    assert [d["id"] for d in worklist["unbooked"]] == [im["id"]]
    assert [s["id"] for s in worklist["outside_window"]] == [orphan["id"], theirs["id"]]


async def test_worklist_follows_the_clock(clinic: Clinic, clock: FakeClock) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + DAY)
    closes = T0 + DAY + 74 * HOUR
    clock.set(closes)
    worklist = await clinic.ok("GET", "/api/v1/worklists/integration")
    assert [d["id"] for d in worklist["unbooked"]] == [dose["id"]]
    clock.set(closes + MICRO)
    worklist = await clinic.ok("GET", "/api/v1/worklists/integration")
    assert worklist["unbooked"] == []


async def test_worklist_leaves_out_archived_clients(clinic: Clinic) -> None:
    # Their care has ended (a client with scheduled sessions cannot be archived): a completed
    # dose of theirs whose window is still open and unbooked is nobody's work.
    second = await clinician(clinic)
    kept = await clinic.prepared_client(first_name="Kept")
    kept_dose = await clinic.dose(kept["id"], T0 + DAY, clinician_id=second)
    gone = await clinic.prepared_client(first_name="Gone")
    gone_dose = await clinic.dose(gone["id"], T0 - DAY, clinician_id=second)  # closes day 2
    await clinic.action("ketamine", gone_dose["id"], "complete")
    await clinic.ok("POST", f"/api/v1/clients/{gone['id']}/archive")

    for params in ({}, {"clinician_id": second}):
        worklist = await clinic.ok("GET", "/api/v1/worklists/integration", params=params)
        assert [d["id"] for d in worklist["unbooked"]] == [kept_dose["id"]]

    await clinic.ok("POST", f"/api/v1/clients/{gone['id']}/unarchive")
    worklist = await clinic.ok("GET", "/api/v1/worklists/integration")
    assert [d["id"] for d in worklist["unbooked"]] == [gone_dose["id"], kept_dose["id"]]
