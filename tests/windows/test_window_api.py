"""The window rule through the HTTP API, on SQLite and PostgreSQL.

Reads (GET one, journey) evaluate in Python; the list filters, the worklist and the client
`stage` filter evaluate in SQL. These tests pin both to the same answers, to the second, as
sessions move, statuses change, the policy changes and the clock advances.
"""

import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.support.factories import T0, Clinic, FakeClock, iso

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)
WINDOW_STATUSES = ("no_ketamine_session", "before_window", "in_window", "after_window")
INTEGRATION_STATUSES = ("not_applicable", "booked_in_window", "unbooked", "missed")
STAGES = ("intake", "preparation", "active_treatment", "maintenance")


def window_alerts(journey: dict[str, Any]) -> set[tuple[str, str]]:
    """The journey's window alerts (dosing-safety alerts have tests of their own)."""
    return {
        (a["code"], a["session_id"])
        for a in journey["alerts"]
        if a["code"].startswith("integration_")
    }


def z(value: datetime) -> str:
    """How the API renders an instant: UTC with Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def window(clinic: Clinic, integration_id: str) -> dict[str, Any]:
    body = await clinic.ok("GET", f"/api/v1/integration-sessions/{integration_id}")
    result: dict[str, Any] = body["window"]
    return result


async def dose_integration(clinic: Clinic, dose_id: str) -> dict[str, Any]:
    body = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{dose_id}")
    result: dict[str, Any] = body["integration"]
    return result


async def walk(clinic: Clinic, url: str, limit: int = 200, **params: str) -> list[dict[str, Any]]:
    """Every item of a list, following cursors; each page must respect the limit."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(500):
        query: dict[str, str | int] = {**params, "limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        page = await clinic.ok("GET", url, params=query)
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == limit, "a page before the last one is full"
    raise AssertionError("pagination did not end")


async def ids(clinic: Clinic, url: str, limit: int = 200, **params: str) -> list[str]:
    return [item["id"] for item in await walk(clinic, url, limit, **params)]


async def windows_filter(clinic: Clinic, status: str, limit: int = 200, **params: str) -> list[str]:
    url = "/api/v1/integration-sessions"
    return await ids(clinic, url, limit, window_status=status, **params)


async def integration_filter(
    clinic: Clinic, status: str, limit: int = 200, **params: str
) -> list[str]:
    url = "/api/v1/ketamine-sessions"
    return await ids(clinic, url, limit, integration_status=status, **params)


async def assert_window(clinic: Clinic, integration_id: str, status: str) -> dict[str, Any]:
    """GET says `status`, and the SQL filter puts the session in that list and no other."""
    evaluated = await window(clinic, integration_id)
    assert evaluated["status"] == status
    for candidate in WINDOW_STATUSES:
        listed = integration_id in await windows_filter(clinic, candidate)
        assert listed == (candidate == status), (candidate, status)
    return evaluated


async def assert_dose(clinic: Clinic, dose_id: str, status: str) -> dict[str, Any]:
    """GET says `status`, and the SQL filter puts the dose in that list and no other."""
    evaluated = await dose_integration(clinic, dose_id)
    assert evaluated["status"] == status
    for candidate in INTEGRATION_STATUSES:
        listed = dose_id in await integration_filter(clinic, candidate)
        assert listed == (candidate == status), (candidate, status)
    return evaluated


async def assert_stage(clinic: Clinic, client_id: str, stage: str) -> None:
    """GET, the journey and the `stage` filter agree on the client's stage."""
    assert (await clinic.ok("GET", f"/api/v1/clients/{client_id}"))["stage"] == stage
    assert (await clinic.ok("GET", f"/api/v1/clients/{client_id}/journey"))["stage"] == stage
    for candidate in STAGES:
        listed = client_id in await ids(clinic, "/api/v1/clients", stage=candidate)
        assert listed == (candidate == stage), (candidate, stage)


async def move(
    clinic: Clinic, kind: str, session_id: str, starts_at: datetime, hours: float = 1
) -> dict[str, Any]:
    body = {"starts_at": iso(starts_at), "ends_at": iso(starts_at + timedelta(hours=hours))}
    return await clinic.ok("PATCH", f"/api/v1/{kind}-sessions/{session_id}", json=body)


async def set_policy(clinic: Clinic, **window_policy: Any) -> dict[str, Any]:
    return await clinic.ok("PATCH", "/api/v1/clinic", json={"window_policy": window_policy})


async def clinician(clinic: Clinic) -> str:
    """Another clinician of the clinic (sessions are booked for them by the admin)."""
    body = {
        "email": f"clinician-{uuid.uuid4().hex[:8]}@kapclinic.org",
        "name": "Dr. Second",
        "role": "clinician",
    }
    member = await clinic.ok("POST", "/api/v1/staff", 201, json=body)
    return str(member["id"])


def ordered(sessions: list[dict[str, Any]]) -> list[str]:
    """Ids in list order: by starts_at, then id."""
    return [s["id"] for s in sorted(sessions, key=lambda s: (at(s["starts_at"]), s["id"]))]


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
