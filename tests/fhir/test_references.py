"""Every reference and every fullUrl in a demo client's $everything reads back by id, as the
same resource; each type answers the roles and clinics it must."""

from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fhir.support import demo_clinic, fhir, journey, resources, validate
from tests.support.factories import Clinic, FakeClock, bearer, bootstrap

Resource = dict[str, Any]


@pytest.fixture(scope="module")
async def demo(app: FastAPI, clock: FakeClock) -> tuple[str, datetime]:
    """A small demo clinic (its journeys hold every exported type) and the demo's now."""
    return await demo_clinic(app, clock, clients=8, seed=16), clock.now


def references(node: Any) -> list[str]:
    """Every `reference` anywhere in a resource, extensions included."""
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


async def _read(http: httpx.AsyncClient, key: str, path: str) -> Resource:
    response = await http.get(f"/fhir/R4/{path}", headers=bearer(key))
    assert response.status_code == 200, (path, response.text)
    return validate(response.json())


async def test_every_reference_of_a_demo_everything_resolves(
    demo: tuple[str, datetime], clock: FakeClock, http: httpx.AsyncClient
) -> None:
    key, now = demo
    clock.set(now)
    patients = resources(await _read(http, key, "Patient?_count=200"))
    assert len(patients) == 8
    seen_types: set[str] = set()
    for patient in patients:
        bundle = await _read(http, key, f"Patient/{patient['id']}/$everything")
        for entry in bundle["entry"]:
            path = entry["fullUrl"].removeprefix("http://kap.test/fhir/R4/")
            assert await _read(http, key, path) == entry["resource"]
            seen_types.add(entry["resource"]["resourceType"])
        wanted = {ref for e in bundle["entry"] for ref in references(e["resource"])}
        for ref in sorted(wanted):
            found = await _read(http, key, ref)
            assert f"{found['resourceType']}/{found['id']}" == ref
            seen_types.add(found["resourceType"])
    assert seen_types == {
        "Patient",
        "Appointment",
        "Encounter",
        "Observation",
        "Consent",
        "Practitioner",
    }


async def test_reads_answer_each_role_and_clinic_as_they_must(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    made = await journey(clinic, app)
    _, scheduler = await clinic.staff("scheduler")
    other = await bootstrap(app, http, clinic.clock)
    bp = f"{made.dose_id}-"
    everything = resources(await fhir(clinic, f"/Patient/{made.client['id']}/$everything"))
    vitals = next(o["id"] for o in everything if o["id"].startswith(bp))
    reads = {
        f"Patient/{made.client['id']}": True,
        f"Appointment/{made.booked_id}": True,
        f"Practitioner/{made.clinician_id}": True,
        f"Encounter/{made.dose_id}": False,
        f"Observation/{made.pcl5_id}": False,
        f"Observation/{vitals}": False,
        f"Consent/{next(r['id'] for r in everything if r['resourceType'] == 'Consent')}": False,
    }
    for path, scheduler_reads in reads.items():
        own = await fhir(clinic, f"/{path}")
        assert f"{own['resourceType']}/{own['id']}" == path
        as_scheduler = await fhir(clinic, f"/{path}", 200 if scheduler_reads else 403, scheduler)
        assert "birthDate" not in as_scheduler
        foreign = await fhir(other, f"/{path}", 404)
        assert foreign["issue"][0]["code"] == "not-found"
    for missing in [
        f"Encounter/{made.booked_id}",  # a session still booked is no Encounter
        f"Observation/{made.dose_id}-0-hr",
        "Observation/nonsense",
        f"Practitioner/{made.client['id']}",
        "Appointment/not-a-uuid",
    ]:
        await fhir(clinic, f"/{missing}", 404)


async def test_a_practitioner_shows_name_and_role_but_no_contact(clinic: Clinic) -> None:
    staff_id, _ = await clinic.staff("clinician")

    practitioner = await fhir(clinic, f"/Practitioner/{staff_id}")

    assert practitioner["name"] == [{"text": "clinician 1"}]
    assert practitioner["qualification"][0]["code"]["text"] == "clinician"
    assert "telecom" not in practitioner
    assert "@" not in str(practitioner)
