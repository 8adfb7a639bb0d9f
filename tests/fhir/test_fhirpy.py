"""A real FHIR client (fhirpy's AsyncFHIRClient) against the app served by uvicorn on loopback:
searches by each parameter, paging to the end, strict handling, errors as OperationOutcomes,
and from `Patient?name=` to every resource of the patient by search and by reference alone."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import (
    AuthorizationError,
    ForbiddenError,
    OperationOutcome,
    ResourceNotFound,
)

from tests.fhir.support import Journey, journey, validate
from tests.support.apps import HandClock, MakeApp
from tests.support.factories import Clinic
from tests.support.servers import free_port

Resource = dict[str, Any]


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real HTTP server on a loopback port, in this event loop (so it shares
    the test's database engine); yields the FHIR base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}/fhir/R4"
    finally:
        server.should_exit = True
        await task


def _client(base: str, headers: dict[str, str], **extra: str) -> AsyncFHIRClient:
    return AsyncFHIRClient(base, authorization=headers["Authorization"], extra_headers=extra)


@pytest.fixture
async def made(clinic: Clinic, app: FastAPI) -> Journey:
    return await journey(clinic, app)


def _ids(found: list[Any]) -> list[str]:
    return [str(resource["id"]) for resource in found]


async def test_searches_by_each_parameter_and_pages_to_the_end(
    clinic: Clinic, app: FastAPI, made: Journey
) -> None:
    cid = made.client["id"]
    async with served(app) as base:
        fhir = _client(base, clinic.headers)
        patients = fhir.resources("Patient")
        assert _ids(await patients.search(name="okaf").fetch_all()) == [cid]
        assert _ids(await patients.search(family="Okafor", given="May").fetch_all()) == [cid]
        assert _ids(await patients.search(_id=cid).fetch_all()) == [cid]
        assert _ids(await patients.search(birthdate__lt="1988-04-17").fetch_all()) == []
        assert _ids(await patients.search(birthdate__ge="1988-04-17").fetch_all()) == [cid]

        appointments = fhir.resources("Appointment").search(patient=cid)
        assert _ids(await appointments.search(status="booked").fetch_all()) == [made.booked_id]
        later = await appointments.search(date__ge="2026-03-02").fetch_all()
        assert _ids(later) == [made.cancelled_id, made.booked_id]
        assert _ids(await appointments.search(_id=made.dose_id).fetch_all()) == [made.dose_id]
        assert await appointments.count() == 6

        encounters = fhir.resources("Encounter").search(patient=f"Patient/{cid}")
        on_dose_day = await encounters.search(date="2026-02-27", status="finished").fetch_all()
        assert _ids(on_dose_day) == [made.dose_id]

        observations = fhir.resources("Observation").search(subject=f"Patient/{cid}")
        rates = await observations.search(code="http://loinc.org|8867-4").fetch_all()
        assert [r["valueQuantity"]["value"] for r in rates] == [74, 88, 70]
        surveys = await observations.search(category="survey", date__gt="2026-02-28").fetch_all()
        assert set(_ids(surveys)) == {made.phq9_id, made.gad7_id, made.pcl5_id}
        # Paging: fhirpy follows `next` to the end; the pages hold every match once, in order.
        everything = await observations.fetch_all()
        paged = await observations.limit(4).fetch_all()
        assert _ids(paged) == _ids(everything)
        assert len(everything) == await observations.count() == 13

        consents = fhir.resources("Consent").search(patient=cid, status="active")
        assert len(await consents.fetch_all()) == 2
        for resource in [*everything, *await consents.fetch_all(), *later, *on_dose_day]:
            validate(resource.serialize())  # type: ignore[no-untyped-call]


async def test_from_a_name_to_every_resource_by_search_and_reference(
    clinic: Clinic, app: FastAPI, made: Journey
) -> None:
    everything_response = await clinic.get(f"/fhir/R4/Patient/{made.client['id']}/$everything")
    everything = everything_response.json()
    wanted = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in everything["entry"]}
    async with served(app) as base:
        fhir = _client(base, clinic.headers)
        [patient] = await fhir.resources("Patient").search(name="Maya").fetch_all()
        reached = {f"Patient/{patient['id']}"}
        frontier: list[Any] = [patient]
        for resource_type in ("Appointment", "Encounter", "Observation", "Consent"):
            found = await fhir.resources(resource_type).search(patient=patient["id"]).fetch_all()
            frontier += found
            reached |= {f"{resource_type}/{r['id']}" for r in found}
        while frontier:
            resource = frontier.pop()
            for ref in _references(resource.serialize()):
                if ref in reached:
                    continue
                target = await fhir.reference(reference=ref).to_resource()
                reached.add(ref)
                frontier.append(target)

    assert wanted <= reached  # every resource of the patient, reached without $everything
    assert {ref.split("/")[0] for ref in reached - wanted} == {"Practitioner"}


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


async def test_strict_handling_and_errors_reach_the_client_as_fhir(
    clinic: Clinic, app: FastAPI, made: Journey
) -> None:
    _, scheduler = await clinic.staff("scheduler")
    async with served(app) as base:
        lenient = _client(base, clinic.headers)
        strict = _client(base, clinic.headers, Prefer="handling=strict")
        ignored = lenient.resources("Appointment").search(patient=made.client["id"], colour="x")
        assert len(await ignored.fetch_all()) == 6
        with pytest.raises(OperationOutcome) as refused:
            await strict.resources("Appointment").search(colour="x").fetch_all()
        assert refused.value.resource["issue"][0]["code"] == "invalid"
        with pytest.raises(OperationOutcome) as bad_date:
            await lenient.resources("Appointment").search(date="soon").fetch_all()
        assert bad_date.value.resource["issue"][0]["code"] == "invalid"
        with pytest.raises(ResourceNotFound):
            await lenient.reference("Encounter", made.booked_id).to_resource()
        with pytest.raises(ForbiddenError):
            await _client(base, scheduler).reference("Encounter", made.dose_id).to_resource()
        with pytest.raises(AuthorizationError):
            await AsyncFHIRClient(base, authorization="Bearer nope").resources("Patient").fetch()


async def test_a_throttled_client_sees_a_throttled_operation_outcome(
    clinic: Clinic, make_app: MakeApp, wall: HandClock
) -> None:
    limited = make_app(rate_limit_per_minute=2)
    async with served(limited) as base:
        fhir = _client(base, clinic.headers)
        for _ in range(2):
            await fhir.resources("Patient").fetch()
        with pytest.raises(OperationOutcome) as throttled:
            await fhir.resources("Patient").fetch()

    [issue] = throttled.value.resource["issue"]
    assert (issue["severity"], issue["code"]) == ("error", "throttled")
