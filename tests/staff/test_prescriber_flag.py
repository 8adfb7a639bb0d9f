"""`staff.prescriber`: read, written and filtered by admins; never held by a scheduler."""

from typing import Any

import pytest

from tests.support.apps import assert_problem
from tests.support.factories import Clinic


async def _member(clinic: Clinic, role: str, prescriber: bool) -> dict[str, Any]:
    body = {"email": f"{role}-{prescriber}@c.example", "name": "N", "role": role}
    return await clinic.ok("POST", "/api/v1/staff", 201, json={**body, "prescriber": prescriber})


async def test_the_flag_defaults_to_false_and_is_read_and_filtered(clinic: Clinic) -> None:
    plain = await clinic.ok(
        "POST", "/api/v1/staff", 201, json={"email": "t@c.example", "name": "T", "role": "admin"}
    )
    assert plain["prescriber"] is False
    doctor = await _member(clinic, "clinician", True)
    assert doctor["prescriber"] is True
    assert (await clinic.ok("GET", f"/api/v1/staff/{doctor['id']}"))["prescriber"] is True
    found = await clinic.ok("GET", "/api/v1/staff", params={"prescriber": "true"})
    assert {m["id"] for m in found["items"]} == {clinic.admin_id, doctor["id"]}
    others = await clinic.ok("GET", "/api/v1/staff", params={"prescriber": "false"})
    assert {m["id"] for m in others["items"]} == {plain["id"]}


async def test_a_scheduler_cannot_be_created_a_prescriber(clinic: Clinic) -> None:
    body = {"email": "s@c.example", "name": "S", "role": "scheduler", "prescriber": True}
    problem = assert_problem(await clinic.post("/api/v1/staff", json=body), 422, "validation_error")
    assert problem["errors"][0]["type"] == "prescriber_needs_clinical_role"
    assert (await clinic.ok("GET", "/api/v1/staff", params={"role": "scheduler"}))["items"] == []


async def test_a_patch_never_leaves_a_scheduler_prescribing(clinic: Clinic) -> None:
    scheduler = await _member(clinic, "scheduler", False)
    url = f"/api/v1/staff/{scheduler['id']}"
    assert_problem(await clinic.patch(url, json={"prescriber": True}), 422, "validation_error")
    doctor = await _member(clinic, "clinician", True)
    url = f"/api/v1/staff/{doctor['id']}"
    demoted = await clinic.patch(url, json={"role": "scheduler"})
    assert_problem(demoted, 422, "validation_error")
    assert (await clinic.ok("GET", url))["role"] == "clinician"
    both = await clinic.ok("PATCH", url, json={"role": "scheduler", "prescriber": False})
    assert (both["role"], both["prescriber"], both["version"]) == ("scheduler", False, 2)
    back = await clinic.ok("PATCH", url, json={"role": "admin", "prescriber": True})
    assert (back["role"], back["prescriber"]) == ("admin", True)


@pytest.mark.parametrize("value", [None, "true", 1, "yes"])
async def test_the_flag_is_a_json_boolean(clinic: Clinic, value: Any) -> None:
    doctor = await _member(clinic, "clinician", True)
    url = f"/api/v1/staff/{doctor['id']}"
    assert_problem(await clinic.patch(url, json={"prescriber": value}), 422, "validation_error")
    body = {"email": "x@c.example", "name": "X", "role": "clinician", "prescriber": value}
    assert_problem(await clinic.post("/api/v1/staff", json=body), 422, "validation_error")
    assert (await clinic.ok("GET", url))["prescriber"] is True


async def test_changing_the_flag_is_audited_by_name(clinic: Clinic) -> None:
    doctor = await _member(clinic, "clinician", False)
    await clinic.ok("PATCH", f"/api/v1/staff/{doctor['id']}", json={"prescriber": True})
    page = await clinic.ok(
        "GET",
        "/api/v1/audit-events",
        params={"action": "update_staff", "resource_id": doctor["id"]},
    )
    assert [row["changed_fields"] for row in page["items"]] == [["prescriber"]]
