"""GET /fhir/R4/Patient/{id}: a client as a Patient, for any staff role."""

import httpx
from fastapi import FastAPI

from tests.fhir.support import FHIR_JSON, fhir, validate
from tests.support.factories import Clinic, bootstrap


async def test_a_clinician_reads_the_whole_patient(clinic: Clinic) -> None:
    clinician_id, clinician = await clinic.staff("clinician")
    client = await clinic.client(
        preferred_name="May",
        email="maya@example.org",
        phone="+1 555 0100",
        primary_clinician_id=clinician_id,
    )

    patient = await fhir(clinic, f"/Patient/{client['id']}", headers=clinician)

    assert patient["id"] == client["id"]
    assert patient["identifier"] == [
        {"use": "usual", "system": "https://kap-journey.dev/fhir/client-id", "value": client["id"]}
    ]
    assert patient["active"] is True
    assert patient["name"] == [
        {"use": "official", "family": "Okafor", "given": ["Maya"]},
        {"use": "usual", "given": ["May"]},
    ]
    assert patient["telecom"] == [
        {"system": "email", "value": "maya@example.org"},
        {"system": "phone", "value": "+1 555 0100"},
    ]
    assert patient["birthDate"] == "1988-04-17"
    assert patient["generalPractitioner"] == [
        {"reference": f"Practitioner/{clinician_id}", "display": "clinician 1"}
    ]
    assert patient["meta"]["versionId"] == str(client["version"])


async def test_a_scheduler_reads_the_patient_without_birth_date(clinic: Clinic) -> None:
    _, scheduler = await clinic.staff("scheduler")
    client = await clinic.client()

    response = await clinic.get(f"/fhir/R4/Patient/{client['id']}", headers=scheduler)

    assert response.status_code == 200
    assert response.headers["content-type"] == FHIR_JSON
    assert response.headers["cache-control"] == "no-store"
    patient = validate(response.json())
    assert "birthDate" not in patient
    assert patient["name"][0]["family"] == "Okafor"
    assert "generalPractitioner" not in patient
    assert "telecom" not in patient


async def test_an_archived_client_is_an_inactive_patient(clinic: Clinic) -> None:
    client = await clinic.client()
    await clinic.ok("POST", f"/api/v1/clients/{client['id']}/archive")

    patient = await fhir(clinic, f"/Patient/{client['id']}")

    assert patient["active"] is False


async def test_another_clinics_patient_is_a_not_found_outcome(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    other = await bootstrap(app, http, clinic.clock)
    theirs = await other.client()

    for patient_id in (theirs["id"], "not-a-uuid"):
        outcome = await fhir(clinic, f"/Patient/{patient_id}", status=404)
        assert outcome["resourceType"] == "OperationOutcome"
        (issue,) = outcome["issue"]
        assert (issue["severity"], issue["code"]) == ("error", "not-found")
        assert issue["details"]["coding"][0]["code"] == "not_found"
        assert theirs["last_name"] not in str(outcome)


async def test_no_token_is_a_security_outcome_with_a_bearer_challenge(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    client = await clinic.client()

    response = await http.get(f"/fhir/R4/Patient/{client['id']}")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == FHIR_JSON
    outcome = validate(response.json())
    assert outcome["issue"][0]["code"] == "security"
