"""`medical_clearance` on client reads: the rule through the API, for clinical roles only."""

from datetime import timedelta
from typing import Any

from tests.screenings.support import record
from tests.support.factories import T0, Clinic, iso

SECOND = timedelta(seconds=1)


def utc(value: Any) -> str:
    return iso(value).replace("+00:00", "Z")


async def clearance(clinic: Clinic, client_id: str, **headers: str) -> dict[str, Any]:
    client = await clinic.ok("GET", f"/api/v1/clients/{client_id}", headers=headers or None)
    summary: dict[str, Any] = client["medical_clearance"]
    return summary


async def test_a_client_goes_from_missing_to_pending_to_cleared(clinic: Clinic) -> None:
    client = await clinic.client()
    missing = {"status": "missing", "screening_id": None, "valid_until": None}
    assert client["medical_clearance"] == {**missing, "pending_screening_id": None}
    pending = await record(clinic, client["id"], decision="pending")
    assert await clearance(clinic, client["id"]) == {
        "status": "pending",
        "screening_id": pending["id"],
        "valid_until": None,
        "pending_screening_id": pending["id"],
    }
    cleared = await record(clinic, client["id"])
    assert await clearance(clinic, client["id"]) == {
        "status": "cleared",
        "screening_id": cleared["id"],
        "valid_until": cleared["valid_until"],
        "pending_screening_id": None,
    }


async def test_a_clearance_expires_one_second_after_valid_until(clinic: Clinic) -> None:
    await clinic.ok(
        "PATCH", "/api/v1/clinic", json={"clinical_policy": {"screening_valid_days": 1}}
    )
    client = await clinic.client()
    cleared = await record(clinic, client["id"])
    assert cleared["valid_until"] == utc(T0 + timedelta(days=1))
    clinic.clock.set(T0 + timedelta(days=1) - SECOND)
    assert (await clearance(clinic, client["id"]))["status"] == "cleared"
    clinic.clock.set(T0 + timedelta(days=1))
    assert (await clearance(clinic, client["id"]))["status"] == "cleared"
    clinic.clock.set(T0 + timedelta(days=1) + SECOND)
    assert await clearance(clinic, client["id"]) == {
        "status": "expired",
        "screening_id": cleared["id"],
        "valid_until": cleared["valid_until"],
        "pending_screening_id": None,
    }


async def test_a_pending_screening_neither_revokes_nor_lifts_a_decision(clinic: Clinic) -> None:
    client = await clinic.client()
    cleared = await record(clinic, client["id"], screened_at=T0 - timedelta(days=3))
    later = await record(
        clinic, client["id"], decision="pending", screened_at=T0 - timedelta(days=2)
    )
    kept = await clearance(clinic, client["id"])
    assert (kept["status"], kept["screening_id"]) == ("cleared", cleared["id"])
    assert kept["pending_screening_id"] == later["id"]
    refused = await record(
        clinic, client["id"], decision="not_cleared", screened_at=T0 - timedelta(days=1)
    )
    again = await record(clinic, client["id"], decision="pending")
    assert await clearance(clinic, client["id"]) == {
        "status": "not_cleared",
        "screening_id": refused["id"],
        "valid_until": None,
        "pending_screening_id": again["id"],
    }
    lifted = await record(clinic, client["id"])
    assert (await clearance(clinic, client["id"]))["screening_id"] == lifted["id"]
    assert (await clearance(clinic, client["id"]))["status"] == "cleared"


async def test_a_later_not_cleared_supersedes_a_clearance_still_valid(clinic: Clinic) -> None:
    client = await clinic.client()
    await record(clinic, client["id"], screened_at=T0 - timedelta(days=30))
    refused = await record(
        clinic, client["id"], decision="not_cleared", screened_at=T0 - timedelta(days=1)
    )
    found = await clearance(clinic, client["id"])
    assert (found["status"], found["screening_id"]) == ("not_cleared", refused["id"])


async def test_the_list_carries_each_clients_own_clearance(clinic: Clinic) -> None:
    cleared = await clinic.client(last_name="Avery")
    refused = await clinic.client(last_name="Baker")
    never = await clinic.client(last_name="Chen")
    await record(clinic, cleared["id"])
    await record(clinic, refused["id"], decision="not_cleared")
    page = await clinic.ok("GET", "/api/v1/clients")
    statuses = {item["id"]: item["medical_clearance"]["status"] for item in page["items"]}
    assert statuses == {
        cleared["id"]: "cleared",
        refused["id"]: "not_cleared",
        never["id"]: "missing",
    }


async def test_writes_answer_with_the_clearance_too(clinic: Clinic) -> None:
    client = await clinic.client()
    await record(clinic, client["id"])
    url = f"/api/v1/clients/{client['id']}"
    edited = await clinic.ok("PATCH", url, json={"preferred_name": "May"})
    assert edited["medical_clearance"]["status"] == "cleared"
    archived = await clinic.ok("POST", f"{url}/archive")
    assert archived["medical_clearance"]["status"] == "cleared"


async def test_the_scheduler_never_sees_the_clearance(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    _, scheduler = await clinic.staff("scheduler")
    _, clinician = await clinic.staff("clinician")
    one = await clinic.ok("GET", f"/api/v1/clients/{client['id']}", headers=scheduler)
    listed = await clinic.ok("GET", "/api/v1/clients", headers=scheduler)
    assert "medical_clearance" not in one
    assert all("medical_clearance" not in item for item in listed["items"])
    assert made["id"] not in str(one) + str(listed)
    seen = await clinic.ok("GET", f"/api/v1/clients/{client['id']}", headers=clinician)
    assert seen["medical_clearance"]["screening_id"] == made["id"]


async def test_the_screening_behind_a_clearance_counts_as_read(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    _, scheduler = await clinic.staff("scheduler")
    await clinic.ok("GET", f"/api/v1/clients/{client['id']}", headers=scheduler)
    await clinic.ok("GET", f"/api/v1/clients/{client['id']}")
    page = await clinic.ok(
        "GET", "/api/v1/audit-events", params={"resource_id": made["id"], "action": "get_client"}
    )
    assert [(row["actor_id"], row["resource_type"]) for row in page["items"]] == [
        (clinic.admin_id, "screening")
    ]
