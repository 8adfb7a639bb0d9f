"""GET /fhir/R4/Encounter?patient=: completed sessions, for clinical roles."""

from fastapi import FastAPI

from tests.fhir.support import fhir, journey, resources
from tests.support.factories import Clinic


async def test_completed_sessions_are_finished_encounters(clinic: Clinic, app: FastAPI) -> None:
    made = await journey(clinic, app)
    _, clinician = await clinic.staff("clinician")

    bundle = await fhir(clinic, f"/Encounter?patient={made.client['id']}", headers=clinician)

    found = {e["id"]: e for e in resources(bundle, "Encounter")}
    assert set(found) == {made.prep_id, made.dose_id, made.integration_id}
    dose, integration = found[made.dose_id], found[made.integration_id]
    assert {e["status"] for e in found.values()} == {"finished"}
    assert dose["class"]["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    assert (dose["class"]["code"], integration["class"]["code"]) == ("AMB", "VR")
    assert dose["type"][0]["text"] == "Ketamine dosing session"
    assert dose["subject"] == {"reference": f"Patient/{made.client['id']}"}
    assert dose["participant"][0]["individual"]["reference"] == f"Practitioner/{made.clinician_id}"
    assert dose["appointment"] == [{"reference": f"Appointment/{made.dose_id}"}]
    assert dose["period"] == {"start": "2026-02-27T12:00:00Z", "end": "2026-02-27T14:00:00Z"}


async def test_a_scheduler_is_refused_encounters(clinic: Clinic) -> None:
    _, scheduler = await clinic.staff("scheduler")
    client = await clinic.client()

    for path in ("/Encounter", "/Observation", f"/Patient/{client['id']}/$everything"):
        outcome = await fhir(
            clinic, f"{path}?patient={client['id']}", status=403, headers=scheduler
        )
        assert outcome["issue"][0]["code"] == "forbidden"
