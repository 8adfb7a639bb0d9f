"""Staff, API keys and roles: admin-only routes, key lifecycle, and the last admin."""

from datetime import timedelta

import httpx

from tests.support.apps import assert_problem
from tests.support.factories import Clinic, bearer, iso


async def test_admin_only_routes_refuse_other_roles(clinic: Clinic) -> None:
    for role in ("clinician", "scheduler"):
        _, headers = await clinic.staff(role)
        for method, url, body in (
            ("GET", "/api/v1/staff", None),
            ("POST", "/api/v1/staff", {"email": "x@clinic.example", "name": "X", "role": "admin"}),
            ("GET", "/api/v1/api-keys", None),
            ("PATCH", "/api/v1/clinic", {"name": "Mine now"}),
        ):
            response = await clinic.request(method, url, json=body, headers=headers)
            assert_problem(response, 403, "forbidden")
        assert (await clinic.get("/api/v1/clinic", headers=headers)).status_code == 200
        assert (await clinic.get("/api/v1/clients", headers=headers)).status_code == 200
    assert (await clinic.ok("GET", "/api/v1/clinic"))["name"] != "Mine now"


async def test_api_key_lifecycle(clinic: Clinic, http: httpx.AsyncClient) -> None:
    staff_id, _ = await clinic.staff("clinician")
    expires_at = iso(clinic.clock.now + timedelta(days=1))
    created = await clinic.ok(
        "POST",
        "/api/v1/api-keys",
        201,
        json={"staff_id": staff_id, "name": "tablet", "expires_at": expires_at},
    )
    key = created["key"]
    assert key.startswith(f"kap_{created['prefix']}_")
    listed = await clinic.ok("GET", "/api/v1/api-keys")
    assert all("key" not in item for item in listed["items"])
    assert created["id"] in {item["id"] for item in listed["items"]}
    assert (await http.get("/api/v1/clients", headers=bearer(key))).status_code == 200
    # Expiry.
    clinic.clock.advance(timedelta(days=1))
    assert_problem(await http.get("/api/v1/clients", headers=bearer(key)), 401, "unauthorized")
    clinic.clock.advance(timedelta(days=-1, seconds=-1))
    # Revocation.
    assert (await clinic.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 204
    assert_problem(await http.get("/api/v1/clients", headers=bearer(key)), 401, "unauthorized")
    assert (await clinic.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 204
    assert_problem(
        await clinic.delete("/api/v1/api-keys/00000000-0000-4000-8000-000000000000"),
        404,
        "not_found",
    )
    past = await clinic.post(
        "/api/v1/api-keys",
        json={"staff_id": staff_id, "name": "old", "expires_at": iso(clinic.clock.now)},
    )
    assert_problem(past, 422, "validation_error")
    # A forged secret with a real prefix fails.
    forged = f"kap_{created['prefix']}_{'A' * 43}"
    assert_problem(await http.get("/api/v1/clients", headers=bearer(forged)), 401, "unauthorized")


async def test_deactivated_staff_cannot_authenticate(clinic: Clinic) -> None:
    staff_id, headers = await clinic.staff("clinician")
    await clinic.ok("PATCH", f"/api/v1/staff/{staff_id}", json={"active": False})
    assert_problem(await clinic.get("/api/v1/clients", headers=headers), 401, "unauthorized")


async def test_staff_emails_are_unique_per_clinic(clinic: Clinic) -> None:
    body = {"email": "Dup@Clinic.example", "name": "Dup", "role": "clinician"}
    made = await clinic.ok("POST", "/api/v1/staff", 201, json=body)
    assert made["email"] == "dup@clinic.example"
    response = await clinic.post("/api/v1/staff", json={**body, "email": "dup@clinic.example"})
    assert_problem(response, 409, "email_taken")


async def test_the_last_admin_cannot_leave(clinic: Clinic) -> None:
    url = f"/api/v1/staff/{clinic.admin_id}"
    assert_problem(await clinic.patch(url, json={"role": "clinician"}), 409, "last_admin")
    assert_problem(await clinic.patch(url, json={"active": False}), 409, "last_admin")
    second_id, second = await clinic.staff("admin")
    demoted = await clinic.ok("PATCH", url, json={"role": "clinician"}, headers=second)
    assert demoted["role"] == "clinician"
    assert_problem(
        await clinic.patch(f"/api/v1/staff/{second_id}", json={"active": False}, headers=second),
        409,
        "last_admin",
    )


async def test_staff_list_filters_and_pages(clinic: Clinic) -> None:
    for role in ("clinician", "clinician", "scheduler"):
        await clinic.staff(role)
    page = await clinic.ok("GET", "/api/v1/staff", params={"role": "clinician", "limit": 1})
    assert len(page["items"]) == 1
    second = await clinic.ok(
        "GET",
        "/api/v1/staff",
        params={"role": "clinician", "limit": 1, "cursor": page["next_cursor"]},
    )
    assert second["items"][0]["id"] != page["items"][0]["id"]
    assert second["next_cursor"] is None
