"""/api/v1/scheduling-integrations: write-only secrets, checked defaults, soft deletion."""

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from app.inbound.models import SchedulingIntegration
from tests.inbound.support import SECRETS, make_integration
from tests.support.factories import Clinic


async def test_the_secret_is_write_only_and_stored_encrypted(app: FastAPI, clinic: Clinic) -> None:
    made = await make_integration(clinic, "calcom")
    assert "signing_secret" not in made
    assert SECRETS["calcom"] not in str(made)
    assert made["inbound_url"] == f"/api/v1/inbound/{made['id']}"
    assert made["event_type_map"]["41"] == "integration"
    listed = await clinic.ok("GET", "/api/v1/scheduling-integrations")
    assert SECRETS["calcom"] not in str(listed)
    async with app.state.sessionmaker() as db:
        stored = (
            await db.execute(
                select(SchedulingIntegration.secret_ciphertext).where(
                    SchedulingIntegration.id == uuid.UUID(made["id"])
                )
            )
        ).scalar_one()
    assert SECRETS["calcom"].encode() not in stored
    assert app.state.secret_box.open(stored) == SECRETS["calcom"]


async def test_patch_replaces_the_secret_and_checks_it_against_the_provider(
    clinic: Clinic,
) -> None:
    made = await make_integration(clinic, "standard")
    url = f"/api/v1/scheduling-integrations/{made['id']}"
    weak = await clinic.patch(url, json={"signing_secret": "whsec_c2hvcnQ="})
    assert weak.status_code == 422, weak.text
    renamed = await clinic.ok(
        "PATCH",
        url,
        json={"name": "Own scheduler", "default_route": "im"},
        headers={"If-Match": '"1"'},
    )
    assert (renamed["name"], renamed["default_route"], renamed["version"]) == (
        "Own scheduler",
        "im",
        2,
    )
    stale = await clinic.patch(url, json={"name": "x"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412


async def _refused(clinic: Clinic, **body: Any) -> dict[str, Any]:
    base = {"provider": "calcom", "name": "C", "signing_secret": SECRETS["calcom"]}
    response = await clinic.post("/api/v1/scheduling-integrations", json={**base, **body})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return problem


async def test_bad_integrations_are_refused(clinic: Clinic) -> None:
    await _refused(clinic, provider="acuity")
    await _refused(clinic, signing_secret="short")
    await _refused(clinic, provider="standard", signing_secret="not-a-whsec-secret-at-all")
    await _refused(clinic, event_type_map={"41": "dinner"})
    # Doses need a route to be booked with.
    problem = await _refused(clinic, event_type_map={"ketamine-iv": "ketamine"})
    assert problem["errors"][0]["loc"] == ["body", "default_route"]
    scheduler_id, _ = await clinic.staff("scheduler")
    problem = await _refused(clinic, default_clinician_id=scheduler_id)
    assert problem["errors"][0]["type"] == "invalid_reference"
    listed = await clinic.ok("GET", "/api/v1/scheduling-integrations")
    assert listed["items"] == []


async def test_a_deleted_integration_answers_410_and_disappears(clinic: Clinic) -> None:
    made = await make_integration(clinic, "calendly")
    await clinic.ok("DELETE", f"/api/v1/scheduling-integrations/{made['id']}", 204)
    gone = await clinic.http.post(f"/api/v1/inbound/{made['id']}", content=b"{}")
    assert gone.status_code == 410, gone.text
    assert gone.json()["code"] == "integration_deleted"
    missing = await clinic.get(f"/api/v1/scheduling-integrations/{made['id']}")
    assert missing.status_code == 404
    history = await clinic.ok("GET", f"/api/v1/scheduling-integrations/{made['id']}/deliveries")
    assert history["items"] == []  # still answerable: what it received stays on record
