"""Input a client could send on purpose: forged cursors, NUL characters, fake time zones, races."""

import asyncio
import base64
import json
from datetime import timedelta

from tests.common.test_conventions import assert_problem
from tests.factories import T0, Clinic


def plain_cursor(values: list[object]) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_forged_and_foreign_cursors_are_422(clinic: Clinic) -> None:
    forged = [
        plain_cursor([{"t": "2026-03-02T12:00:00"}, {"u": "00000000-0000-4000-8000-000000000000"}]),
        plain_cursor([5, "x"]),
        "x" * 300,
    ]
    for cursor in forged:
        for url in ("/api/v1/preparation-sessions", "/api/v1/clients", "/api/v1/staff"):
            response = await clinic.get(url, params={"cursor": cursor})
            assert_problem(response, 422, "invalid_cursor")
    for _ in range(2):
        await clinic.staff("clinician")
    staff_page = await clinic.ok("GET", "/api/v1/staff", params={"limit": 1})
    response = await clinic.get("/api/v1/api-keys", params={"cursor": staff_page["next_cursor"]})
    assert_problem(response, 422, "invalid_cursor")


async def test_cursors_do_not_carry_names_in_the_clear(clinic: Clinic) -> None:
    for name in ("Okafor", "Nguyen"):
        await clinic.client(last_name=name)
    page = await clinic.ok("GET", "/api/v1/clients", params={"limit": 1})
    cursor = page["next_cursor"]
    padded = cursor + "=" * (-len(cursor) % 4)
    assert b"Okafor" not in base64.urlsafe_b64decode(padded)
    following = await clinic.ok("GET", "/api/v1/clients", params={"limit": 1, "cursor": cursor})
    assert [c["last_name"] for c in following["items"]] == ["Okafor"]


async def test_nul_characters_are_422_everywhere(clinic: Clinic) -> None:
    body = {"first_name": "Maya\u0000", "last_name": "O", "date_of_birth": "1980-01-01"}
    assert_problem(await clinic.post("/api/v1/clients", json=body), 422, "validation_error")
    response = await clinic.get("/api/v1/clients", params={"q": "a\u0000b"})
    assert_problem(response, 422, "validation_error")
    assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == []


async def test_only_real_time_zones(clinic: Clinic) -> None:
    for zone in ("localtime", "Factory", "posixrules", "Mars/Base"):
        response = await clinic.patch("/api/v1/clinic", json={"timezone": zone})
        assert_problem(response, 422, "validation_error")
    assert await clinic.ok("PATCH", "/api/v1/clinic", json={"timezone": "Europe/Oslo"})


async def test_racing_staff_creates_with_one_email(clinic: Clinic) -> None:
    body = {"email": "same@clinic.example", "name": "Same", "role": "clinician"}
    responses = await asyncio.gather(*(clinic.post("/api/v1/staff", json=body) for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5


async def test_two_admins_cannot_deactivate_each_other_at_once(clinic: Clinic) -> None:
    other_id, other = await clinic.staff("admin")
    responses = await asyncio.gather(
        clinic.patch(f"/api/v1/staff/{other_id}", json={"active": False}),
        clinic.patch(f"/api/v1/staff/{clinic.admin_id}", json={"active": False}, headers=other),
    )
    assert sorted(r.status_code for r in responses) in ([200, 409], [200, 401])
    listed = await clinic.get("/api/v1/staff", params={"role": "admin", "active": True})
    if listed.status_code == 200:
        assert len(listed.json()["items"]) == 1


async def test_an_idempotent_replay_is_audited(clinic: Clinic) -> None:
    body = {"first_name": "Re", "last_name": "Play", "date_of_birth": "1980-01-01"}
    headers = {"Idempotency-Key": "audited-replay"}
    first = await clinic.ok("POST", "/api/v1/clients", 201, json=body, headers=headers)
    await clinic.ok("POST", "/api/v1/clients", 201, json=body, headers=headers)
    events = await clinic.ok(
        "GET",
        "/api/v1/audit-events",
        params={"action": "create_client", "resource_id": first["id"]},
    )
    assert len(events["items"]) == 2
    await clinic.prep(first["id"], T0 + timedelta(days=1))
