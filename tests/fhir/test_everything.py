"""GET /fhir/R4/Patient/{id}/$everything, and the audit trail of FHIR reads."""

from typing import Any

import httpx
from fastapi import FastAPI

from tests.fhir.support import fhir, journey, resources
from tests.support.factories import Clinic, bootstrap


async def test_everything_is_one_valid_bundle(clinic: Clinic, app: FastAPI) -> None:
    made = await journey(clinic, app)

    bundle = await fhir(clinic, f"/Patient/{made.client['id']}/$everything")

    found = resources(bundle)
    kinds = [r["resourceType"] for r in found]
    # The two consents are the treatment and REMS-enrollment ones a dosed client signed.
    assert kinds == (
        ["Patient"]
        + ["Appointment"] * 6
        + ["Encounter"] * 3
        + ["Observation"] * 13
        + ["Consent"] * 2
    )
    assert found[0]["birthDate"] == "1988-04-17"
    references = {
        ref["reference"]
        for resource in found
        for ref in _references(resource)
        if not ref["reference"].startswith("Practitioner/")
    }
    exported = {f"{r['resourceType']}/{r['id']}" for r in found}
    # Nothing dangles; Practitioners are read by id (tests/fhir/test_references.py).
    assert references <= exported


def _references(node: Any) -> list[dict[str, str]]:
    if isinstance(node, dict):
        own = [node] if set(node) <= {"reference", "display"} and "reference" in node else []
        return own + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


async def test_another_clinics_everything_is_not_found(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    other = await bootstrap(app, http, clinic.clock)
    theirs = await other.client()

    outcome = await fhir(clinic, f"/Patient/{theirs['id']}/$everything", status=404)

    assert outcome["issue"][0]["code"] == "not-found"


async def _audit(clinic: Clinic, resource_id: str) -> list[dict[str, Any]]:
    page = await clinic.ok("GET", f"/api/v1/audit-events?resource_id={resource_id}&limit=200")
    return list(page["items"])


async def test_fhir_reads_are_audited_by_operation(clinic: Clinic, app: FastAPI) -> None:
    made = await journey(clinic, app)
    _, clinician = await clinic.staff("clinician")
    _, scheduler = await clinic.staff("scheduler")
    cid = made.client["id"]

    await fhir(clinic, f"/Patient/{cid}", headers=clinician)
    await fhir(clinic, f"/Appointment?patient={cid}", headers=scheduler)
    await fhir(clinic, f"/Observation?patient={cid}", headers=clinician)
    await fhir(clinic, f"/Patient/{cid}/$everything", headers=clinician)
    await fhir(clinic, f"/Patient/{cid}/$everything", status=403, headers=scheduler)

    on_client = {(e["action"], e["actor_role"], e["outcome"]) for e in await _audit(clinic, cid)}
    assert {
        ("get_fhir_patient", "clinician", "success"),
        ("list_fhir_appointments", "scheduler", "success"),
        ("list_fhir_observations", "clinician", "success"),
        ("get_fhir_patient_everything", "clinician", "success"),
        ("get_fhir_patient_everything", "scheduler", "denied"),
    } <= on_client
    on_dose = {e["action"] for e in await _audit(clinic, made.dose_id)}
    assert {
        "list_fhir_appointments",
        "list_fhir_observations",
        "get_fhir_patient_everything",
    } <= on_dose
    on_score = {e["action"] for e in await _audit(clinic, made.phq9_id)}
    assert {"list_fhir_observations", "get_fhir_patient_everything"} <= on_score
    on_pcl5 = {e["action"] for e in await _audit(clinic, made.pcl5_id)}
    assert on_pcl5 == {
        "create_assessment",
        "list_fhir_observations",
        "get_fhir_patient_everything",
    }
