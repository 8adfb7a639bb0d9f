"""Concurrent writes: the overlap rule and Idempotency-Key hold when requests race."""

import asyncio
from datetime import timedelta

from tests.support.factories import T0, Clinic, iso


async def test_racing_bookings_for_one_slot_admit_exactly_one(clinic: Clinic) -> None:
    client = await clinic.client()
    start = T0 + timedelta(days=1)
    bodies = [
        {
            "client_id": client["id"],
            "starts_at": iso(start + timedelta(minutes=5 * n)),
            "ends_at": iso(start + timedelta(hours=1, minutes=5 * n)),
        }
        for n in range(8)
    ]
    responses = await asyncio.gather(
        *(clinic.post("/api/v1/preparation-sessions", json=body) for body in bodies)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    listed = await clinic.ok(
        "GET", "/api/v1/preparation-sessions", params={"client_id": client["id"]}
    )
    assert len(listed["items"]) == 1


async def test_racing_duplicates_with_one_key_create_once(clinic: Clinic) -> None:
    body = {"first_name": "Race", "last_name": "Key", "date_of_birth": "1980-01-01"}
    responses = await asyncio.gather(
        *(
            clinic.post("/api/v1/clients", json=body, headers={"Idempotency-Key": "same"})
            for _ in range(6)
        )
    )
    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert {r.json()["id"] for r in created} == {created[0].json()["id"]}
    assert all(r.status_code in (201, 409) for r in responses)
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "idempotency_key_in_progress"
    listed = await clinic.ok("GET", "/api/v1/clients", params={"q": "Race"})
    assert len(listed["items"]) == 1
