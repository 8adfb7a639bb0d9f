"""The CapabilityStatement, and FHIR-shaped errors for anything under /fhir/."""

import httpx

from tests.fhir.support import FHIR_JSON, validate


async def test_metadata_is_public_and_describes_the_server(http: httpx.AsyncClient) -> None:
    response = await http.get("/fhir/R4/metadata")

    assert response.status_code == 200
    assert response.headers["content-type"] == FHIR_JSON
    statement = validate(response.json())
    assert statement["resourceType"] == "CapabilityStatement"
    assert (statement["status"], statement["kind"]) == ("active", "instance")
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["json"]
    assert statement["implementation"]["url"] == "http://kap.test/fhir/R4"
    (rest,) = statement["rest"]
    assert rest["mode"] == "server"
    assert "Bearer" in rest["security"]["description"]
    # What each resource offers is checked against the live router in test_capability.py.
    assert {r["type"] for r in rest["resource"]} >= {"Patient", "Practitioner"}


async def test_an_unknown_fhir_path_is_an_operation_outcome(http: httpx.AsyncClient) -> None:
    response = await http.get("/fhir/R4/Medication/123")

    assert response.status_code == 404
    assert response.headers["content-type"] == FHIR_JSON
    outcome = validate(response.json())
    assert outcome["issue"][0]["code"] == "not-found"


async def test_errors_elsewhere_stay_problem_json(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/clients")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized"
