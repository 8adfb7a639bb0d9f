"""Schedulers see and write scheduling facts only: clinical fields are absent, writes are 403."""

from datetime import timedelta
from typing import Any

from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic

CLIENT_CLINICAL = {"date_of_birth", "presenting_concerns", "medical_clearance"}
SESSION_CLINICAL = {"notes", "topics", "dose_mg", "weight_kg"}
# The esketamine REMS monitoring record (issue 14), the answers' own keys included.
REMS_RECORD = {"ready_to_leave_at", "concomitant_medications", "maois", "rems_record_missing"}


def keys(value: Any) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


async def _journey(clinic: Clinic) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    client = await clinic.client(presenting_concerns=["trauma"], email="c@example.com")
    prep = await clinic.prep(
        client["id"], T0 - timedelta(days=3), topics=["intentions"], notes="n1"
    )
    await clinic.action("preparation", prep["id"], "complete")
    dose = await clinic.dose(
        client["id"], T0 + timedelta(days=1), dose_mg=35, weight_kg=70, notes="n2"
    )
    await clinic.integration(client["id"], T0 + timedelta(days=5), notes="n3")
    return client, prep, dose


async def test_scheduler_reads_omit_clinical_fields(clinic: Clinic) -> None:
    client, prep, dose = await _journey(clinic)
    _, scheduler = await clinic.staff("scheduler")
    _, clinician = await clinic.staff("clinician")
    urls = [
        f"/api/v1/clients/{client['id']}",
        "/api/v1/clients",
        f"/api/v1/clients/{client['id']}/journey",
        f"/api/v1/preparation-sessions/{prep['id']}",
        f"/api/v1/ketamine-sessions/{dose['id']}",
        "/api/v1/ketamine-sessions",
        "/api/v1/integration-sessions",
        "/api/v1/preparation-sessions",
        "/api/v1/worklists/integration",
    ]
    for url in urls:
        seen = keys(await clinic.ok("GET", url, headers=scheduler))
        assert not seen & (CLIENT_CLINICAL | SESSION_CLINICAL | REMS_RECORD), url
        full = keys(await clinic.ok("GET", url, headers=clinician))
        assert seen < full or url.endswith("integration"), url
    shown = await clinic.ok("GET", f"/api/v1/clients/{client['id']}", headers=scheduler)
    assert {"first_name", "last_name", "email", "phone", "stage"} <= shown.keys()
    dose_seen = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{dose['id']}", headers=scheduler)
    assert {"route", "integration", "starts_at"} <= dose_seen.keys()
    full_dose = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{dose['id']}", headers=clinician)
    assert (full_dose["dose_mg"], full_dose["weight_kg"], full_dose["notes"]) == (35, 70, "n2")
    assert keys(full_dose) >= REMS_RECORD


async def test_scheduler_clinical_writes_are_403_and_change_nothing(clinic: Clinic) -> None:
    client, _prep, dose = await _journey(clinic)
    clinician_id, _ = await clinic.staff("clinician")
    _, scheduler = await clinic.staff("scheduler")
    at = T0 + timedelta(days=9)
    base = {
        "client_id": client["id"],
        "clinician_id": clinician_id,
        "starts_at": at.isoformat(),
        "ends_at": (at + timedelta(hours=1)).isoformat(),
    }
    for url, body in (
        ("/api/v1/integration-sessions", {**base, "notes": "x"}),
        ("/api/v1/preparation-sessions", {**base, "topics": ["intentions"]}),
        ("/api/v1/ketamine-sessions", {**base, "route": "iv", "dose_mg": 10}),
        ("/api/v1/ketamine-sessions", {**base, "route": "iv", "ready_to_leave_at": None}),
        (
            "/api/v1/ketamine-sessions",
            {**base, "route": "intranasal", "concomitant_medications": {"maois": False}},
        ),
    ):
        assert_problem(await clinic.post(url, json=body, headers=scheduler), 403, "forbidden")
    url = f"/api/v1/ketamine-sessions/{dose['id']}"
    rems: list[dict[str, Any]] = [
        {"ready_to_leave_at": (T0 + timedelta(days=1, hours=2)).isoformat()},
        {"ready_to_leave_at": None},
        {"concomitant_medications": {"maois": False}},
        {"concomitant_medications": None},
    ]
    for change in ({"notes": "x"}, {"weight_kg": 80}, {"dose_mg": None}, *rems):
        assert_problem(await clinic.patch(url, json=change, headers=scheduler), 403, "forbidden")
    unchanged = await clinic.ok("GET", url)
    assert (unchanged["notes"], unchanged["weight_kg"], unchanged["version"]) == ("n2", 70, 1)
    new_client = {"first_name": "S", "last_name": "T", "date_of_birth": "1990-01-01"}
    assert_problem(
        await clinic.post("/api/v1/clients", json=new_client, headers=scheduler), 403, "forbidden"
    )
    assert_problem(
        await clinic.patch(
            f"/api/v1/clients/{client['id']}", json={"phone": "+1 555 0100 22"}, headers=scheduler
        ),
        403,
        "forbidden",
    )
    assert (await clinic.ok("GET", "/api/v1/clients"))["items"][0]["version"] == 1


async def test_scheduler_books_moves_and_cancels(clinic: Clinic) -> None:
    client, _, dose = await _journey(clinic)
    clinician_id, _ = await clinic.staff("clinician")
    _, scheduler = await clinic.staff("scheduler")
    at = T0 + timedelta(days=3)
    made = await clinic.ok(
        "POST",
        "/api/v1/integration-sessions",
        201,
        headers=scheduler,
        json={
            "client_id": client["id"],
            "clinician_id": clinician_id,
            "starts_at": at.isoformat(),
            "ends_at": (at + timedelta(hours=1)).isoformat(),
        },
    )
    assert "notes" not in made
    later = at + timedelta(hours=4)
    moved = await clinic.ok(
        "PATCH",
        f"/api/v1/integration-sessions/{made['id']}",
        headers=scheduler,
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=1)).isoformat()},
    )
    assert moved["window"]["status"] == "in_window"
    await clinic.action("integration", made["id"], "cancel", headers=scheduler, reason="rebook")
    clinic.clock.set(T0 + timedelta(days=1, hours=3))
    response = await clinic.post(
        f"/api/v1/ketamine-sessions/{dose['id']}/complete", json={}, headers=scheduler
    )
    assert_problem(response, 403, "forbidden")
    no_show = await clinic.action("ketamine", dose["id"], "no-show", headers=scheduler)
    assert no_show["status"] == "no_show"


async def test_read_only_fields_in_input_are_422_and_change_nothing(clinic: Clinic) -> None:
    """OWASP API3: properties a client may not set are refused, never silently applied."""
    client = await clinic.prepared_client()
    at = T0 + timedelta(days=1)
    base = {
        "client_id": client["id"],
        "route": "iv",
        "starts_at": at.isoformat(),
        "ends_at": (at + timedelta(hours=2)).isoformat(),
    }
    forged: list[dict[str, Any]] = [
        {"id": client["id"]},
        {"clinic_id": clinic.id},
        {"status": "completed"},
        {"kind": "integration"},
        {"version": 7},
        {"ended_at": at.isoformat()},
        {"integration": {"status": "booked_in_window"}},
        {"created_at": at.isoformat()},
    ]
    for extra in forged:
        response = await clinic.post("/api/v1/ketamine-sessions", json={**base, **extra})
        assert_problem(response, 422, "validation_error")
    dose = await clinic.dose(client["id"], at)
    url = f"/api/v1/ketamine-sessions/{dose['id']}"
    for extra in [*forged, {"client_id": client["id"]}, {"window": {"status": "in_window"}}]:
        assert_problem(await clinic.patch(url, json=extra), 422, "validation_error")
    assert (await clinic.ok("GET", url))["version"] == 1
    for extra in ({"stage": "maintenance"}, {"archived": True}, {"clinic_id": clinic.id}):
        response = await clinic.patch(f"/api/v1/clients/{client['id']}", json=extra)
        assert_problem(response, 422, "validation_error")
