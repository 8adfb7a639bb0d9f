"""Scheduling rules: lengths, overlaps, preparation first, links, clinicians and transitions."""

from datetime import timedelta

from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, iso


def booking(client_id: str, start: object, end: object, **extra: object) -> dict[str, object]:
    return {"client_id": client_id, "starts_at": iso(start), "ends_at": iso(end), **extra}  # type: ignore[arg-type]


async def test_length_must_be_positive_and_at_most_12_hours(clinic: Clinic) -> None:
    client = await clinic.client()
    start = T0 + timedelta(days=1)
    for end in (start, start - timedelta(minutes=1), start + timedelta(hours=12, seconds=1)):
        response = await clinic.post(
            "/api/v1/preparation-sessions", json=booking(client["id"], start, end)
        )
        assert_problem(response, 422, "validation_error")
    ok = await clinic.post(
        "/api/v1/preparation-sessions",
        json=booking(client["id"], start, start + timedelta(hours=12)),
    )
    assert ok.status_code == 201


async def test_a_clients_sessions_may_not_overlap(clinic: Clinic) -> None:
    client = await clinic.client()
    other_client = await clinic.client(last_name="Other")
    start = T0 + timedelta(days=1)
    first = await clinic.prep(client["id"], start)
    overlap = booking(client["id"], start + timedelta(minutes=30), start + timedelta(hours=2))
    body = assert_problem(
        await clinic.post("/api/v1/integration-sessions", json=overlap), 409, "schedule_conflict"
    )
    assert body["conflicting_session_id"] == first["id"]
    # Back to back is fine, another client is fine, and a cancelled session frees its slot.
    await clinic.prep(client["id"], start + timedelta(hours=1))
    await clinic.prep(other_client["id"], start)
    await clinic.action("preparation", first["id"], "cancel", reason="moved")
    await clinic.integration(client["id"], start)


async def test_rescheduling_checks_overlap_against_others_only(clinic: Clinic) -> None:
    client = await clinic.client()
    start = T0 + timedelta(days=1)
    first = await clinic.prep(client["id"], start)
    await clinic.prep(client["id"], start + timedelta(hours=3))
    url = f"/api/v1/preparation-sessions/{first['id']}"
    later = {
        "starts_at": iso(start + timedelta(minutes=30)),
        "ends_at": iso(start + timedelta(hours=1, minutes=30)),
    }
    shifted = await clinic.patch(url, json=later)
    assert shifted.status_code == 200
    clash = await clinic.patch(url, json={"ends_at": iso(start + timedelta(hours=3, minutes=1))})
    assert_problem(clash, 409, "schedule_conflict")
    inverted = await clinic.patch(url, json={"ends_at": iso(start)})
    assert_problem(inverted, 422, "validation_error")


async def test_a_dose_needs_preparation_first(clinic: Clinic) -> None:
    client = await clinic.client()
    dose_at = T0 + timedelta(days=5)
    dose = booking(client["id"], dose_at, dose_at + timedelta(hours=2), route="iv")
    assert_problem(
        await clinic.post("/api/v1/ketamine-sessions", json=dose), 409, "preparation_required"
    )
    # A preparation after the dose does not count; one before it does, even if only scheduled.
    await clinic.prep(client["id"], dose_at + timedelta(days=1))
    assert_problem(
        await clinic.post("/api/v1/ketamine-sessions", json=dose), 409, "preparation_required"
    )
    prep = await clinic.prep(client["id"], dose_at - timedelta(days=2))
    booked = await clinic.ok("POST", "/api/v1/ketamine-sessions", 201, json=dose)
    # Completing the dose needs that preparation completed.
    clinic.clock.set(dose_at + timedelta(hours=3))
    response = await clinic.post(f"/api/v1/ketamine-sessions/{booked['id']}/complete", json={})
    assert_problem(response, 409, "preparation_required")  # before the dosing gate's checks
    await clinic.action("preparation", prep["id"], "complete")
    await clinic.clear_for_dosing(client["id"], dose_at - timedelta(days=2))
    done = await clinic.action("ketamine", booked["id"], "complete")
    assert done["status"] == "completed"


async def test_clinic_may_waive_the_preparation_rule(clinic: Clinic) -> None:
    await clinic.ok("PATCH", "/api/v1/clinic", json={"require_completed_preparation": False})
    client = await clinic.client()
    await clinic.dose(client["id"], T0 + timedelta(days=1))


async def test_status_machine(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    start = T0 + timedelta(days=1)
    dose = await clinic.dose(client["id"], start)
    url = f"/api/v1/ketamine-sessions/{dose['id']}"
    # Not before it starts.
    assert_problem(await clinic.post(f"{url}/complete", json={}), 409, "invalid_transition")
    assert_problem(await clinic.post(f"{url}/no-show"), 409, "invalid_transition")
    clinic.clock.set(start + timedelta(hours=2, minutes=5))
    done = await clinic.action(
        "ketamine", dose["id"], "complete", ended_at=iso(start + timedelta(hours=2))
    )
    assert done["ended_at"] is not None
    for action, body in (("complete", {}), ("cancel", {"reason": "x"}), ("no-show", None)):
        response = await clinic.post(f"{url}/{action}", json=body)
        assert_problem(response, 409, "invalid_transition")
    next_day = {
        "starts_at": iso(start + timedelta(days=1)),
        "ends_at": iso(start + timedelta(days=1, hours=2)),
    }
    # Moving a completed session is a correction (tests/sessions/test_corrections.py).
    moved = await clinic.patch(url, json=next_day)
    assert_problem(moved, 422, "correction_reason_required")
    edited = await clinic.ok("PATCH", url, json={"notes": "Tolerated well.", "dose_mg": 35})
    assert edited["notes"] == "Tolerated well."
    assert edited["dose_mg"] == 35


async def test_recorded_end_must_be_plausible(clinic: Clinic) -> None:
    client = await clinic.client()
    start = T0 - timedelta(hours=3)
    prep = await clinic.prep(client["id"], start)
    url = f"/api/v1/preparation-sessions/{prep['id']}/complete"
    for ended in (start, start + timedelta(hours=12, seconds=1), T0 + timedelta(minutes=1)):
        response = await clinic.post(url, json={"ended_at": iso(ended)})
        assert_problem(response, 422, "validation_error")
    assert (await clinic.post(url, json={"ended_at": "2026-03-02T10:00:00"})).status_code == 422
    assert (
        await clinic.post(url, json={"ended_at": iso(start + timedelta(hours=1))})
    ).status_code == 200


async def test_cancel_needs_a_reason_and_keeps_it(clinic: Clinic) -> None:
    client = await clinic.client()
    prep = await clinic.prep(client["id"], T0 + timedelta(days=1))
    url = f"/api/v1/preparation-sessions/{prep['id']}/cancel"
    assert_problem(await clinic.post(url, json={}), 422, "validation_error")
    assert_problem(await clinic.post(url, json={"reason": "  "}), 422, "validation_error")
    cancelled = await clinic.ok("POST", url, json={"reason": "Client unwell"})
    assert cancelled["cancellation_reason"] == "Client unwell"


async def test_no_show_after_the_start(clinic: Clinic) -> None:
    client = await clinic.client()
    prep = await clinic.prep(client["id"], T0 - timedelta(hours=2))
    marked = await clinic.action("preparation", prep["id"], "no-show")
    assert marked["status"] == "no_show"


async def test_links_must_be_the_same_clients_dose(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    other = await clinic.prepared_client(last_name="Other")
    dose = await clinic.dose(client["id"], T0 + timedelta(days=1))
    at = T0 + timedelta(days=2)
    for link in (dose["id"], "00000000-0000-4000-8000-000000000000"):
        response = await clinic.post(
            "/api/v1/integration-sessions",
            json=booking(other["id"], at, at + timedelta(hours=1), ketamine_session_id=link),
        )
        assert_problem(response, 422, "validation_error")
    prep = await clinic.ok(
        "GET", "/api/v1/preparation-sessions", params={"client_id": client["id"]}
    )
    response = await clinic.post(
        "/api/v1/integration-sessions",
        json=booking(
            client["id"], at, at + timedelta(hours=1), ketamine_session_id=prep["items"][0]["id"]
        ),
    )
    assert_problem(response, 422, "validation_error")
    linked = await clinic.integration(client["id"], at, ketamine_session_id=dose["id"])
    assert linked["window"]["linked"] is True


async def test_clinician_must_be_an_active_clinician(clinic: Clinic) -> None:
    client = await clinic.client()
    scheduler_id, scheduler = await clinic.staff("scheduler")
    clinician_id, _ = await clinic.staff("clinician")
    at = T0 + timedelta(days=1)
    body = booking(client["id"], at, at + timedelta(hours=1))
    response = await clinic.post(
        "/api/v1/preparation-sessions", json={**body, "clinician_id": scheduler_id}
    )
    assert_problem(response, 422, "validation_error")
    # A scheduler must name the clinician; a clinician defaults to themself.
    response = await clinic.post("/api/v1/preparation-sessions", json=body, headers=scheduler)
    assert_problem(response, 422, "validation_error")
    made = await clinic.ok(
        "POST",
        "/api/v1/preparation-sessions",
        201,
        json={**body, "clinician_id": clinician_id},
        headers=scheduler,
    )
    assert made["clinician_id"] == clinician_id


async def test_archived_clients_cannot_be_booked(clinic: Clinic) -> None:
    client = await clinic.client()
    await clinic.ok("POST", f"/api/v1/clients/{client['id']}/archive")
    at = T0 + timedelta(days=1)
    response = await clinic.post(
        "/api/v1/preparation-sessions", json=booking(client["id"], at, at + timedelta(hours=1))
    )
    assert_problem(response, 409, "client_archived")


async def test_list_filters(clinic: Clinic) -> None:
    a = await clinic.client(last_name="A")
    b = await clinic.client(last_name="B")
    first = await clinic.prep(a["id"], T0 + timedelta(days=1))
    await clinic.prep(a["id"], T0 + timedelta(days=3))
    await clinic.prep(b["id"], T0 + timedelta(days=2))
    await clinic.action("preparation", first["id"], "cancel", reason="x")

    async def ids(**params: object) -> list[str]:
        page = await clinic.ok("GET", "/api/v1/preparation-sessions", params=params)
        return [s["client_id"] + "@" + s["starts_at"][:10] for s in page["items"]]

    assert await ids(client_id=a["id"]) == [f"{a['id']}@2026-03-03", f"{a['id']}@2026-03-05"]
    assert await ids(status="cancelled") == [f"{a['id']}@2026-03-03"]
    assert await ids(
        starts_after=iso(T0 + timedelta(days=2)), starts_before=iso(T0 + timedelta(days=3))
    ) == [f"{b['id']}@2026-03-04"]
    response = await clinic.get(
        "/api/v1/preparation-sessions", params={"starts_after": "2026-03-01T00:00:00"}
    )
    assert_problem(response, 422, "validation_error")
    response = await clinic.get("/api/v1/preparation-sessions", params={"status": "done"})
    assert_problem(response, 422, "validation_error")


async def test_each_collection_holds_only_its_kind(clinic: Clinic) -> None:
    client = await clinic.client()
    prep = await clinic.prep(client["id"], T0 + timedelta(days=1))
    response = await clinic.get(f"/api/v1/ketamine-sessions/{prep['id']}")
    assert_problem(response, 404, "not_found")


async def test_a_recorded_overrun_may_not_run_into_the_next_session(clinic: Clinic) -> None:
    client = await clinic.client()
    start = T0 - timedelta(hours=6)
    first = await clinic.prep(client["id"], start)
    second = await clinic.prep(client["id"], start + timedelta(hours=2))
    url = f"/api/v1/preparation-sessions/{first['id']}/complete"
    clash = await clinic.post(url, json={"ended_at": iso(start + timedelta(hours=2, minutes=30))})
    body = assert_problem(clash, 409, "schedule_conflict")
    assert body["conflicting_session_id"] == second["id"]
    ran_over = await clinic.ok(
        "POST", url, json={"ended_at": iso(start + timedelta(hours=1, minutes=30))}
    )
    assert ran_over["status"] == "completed"
