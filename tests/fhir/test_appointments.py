"""GET /fhir/R4/Appointment?patient=: every session, any status, for any staff role."""

from datetime import timedelta

import httpx
from fastapi import FastAPI

from tests.fhir.support import fhir, journey, resources
from tests.support.factories import Clinic, bootstrap

WINDOW_URL = "https://kap-journey.dev/fhir/StructureDefinition/integration-window"


async def test_each_session_status_maps_to_an_appointment_status(
    clinic: Clinic, app: FastAPI
) -> None:
    made = await journey(clinic, app)

    bundle = await fhir(clinic, f"/Appointment?patient={made.client['id']}")

    found = {a["id"]: a for a in resources(bundle, "Appointment")}
    assert len(found) == bundle["total"] == 6
    assert {sid: found[sid]["status"] for sid in found} == {
        made.prep_id: "fulfilled",
        made.dose_id: "fulfilled",
        made.integration_id: "fulfilled",
        made.no_show_id: "noshow",
        made.cancelled_id: "cancelled",
        made.booked_id: "booked",
    }
    assert found[made.cancelled_id]["cancelationReason"] == {"text": "Client unwell"}
    assert "cancelationReason" not in found[made.booked_id]
    dose = found[made.dose_id]
    assert dose["serviceType"][0]["text"] == dose["appointmentType"]["text"]
    assert dose["serviceType"][0]["coding"][0]["code"] == "ketamine"
    assert dose["participant"] == [
        {"actor": {"reference": f"Patient/{made.client['id']}"}, "status": "accepted"},
        {
            "actor": {"reference": f"Practitioner/{made.clinician_id}", "display": "clinician 1"},
            "status": "accepted",
        },
    ]
    assert bundle["link"] == [
        {
            "relation": "self",
            "url": f"http://kap.test/fhir/R4/Appointment?patient={made.client['id']}",
        }
    ]


async def test_integration_appointments_carry_their_window(clinic: Clinic, app: FastAPI) -> None:
    made = await journey(clinic, app)

    bundle = await fhir(clinic, f"/Appointment?patient=Patient/{made.client['id']}")

    found = {a["id"]: a for a in resources(bundle)}
    (window,) = found[made.integration_id]["extension"]
    assert window["url"] == WINDOW_URL
    parts = {part["url"]: part for part in window["extension"]}
    assert parts["status"]["valueCode"] == "in_window"
    assert parts["window"]["valuePeriod"] == {
        "start": "2026-02-27T14:00:00Z",
        "end": "2026-03-02T14:00:00Z",
    }
    assert parts["ketamineSession"]["valueReference"] == {
        "reference": f"Appointment/{made.dose_id}"
    }
    assert parts["hoursAfterDose"]["valueDecimal"] == 22.0
    assert "extension" not in found[made.dose_id]
    assert "extension" not in found[made.prep_id]


async def test_a_scheduler_searches_appointments(clinic: Clinic) -> None:
    _, scheduler = await clinic.staff("scheduler")
    client = await clinic.client()
    session = await clinic.prep(client["id"], clinic.clock.now)

    bundle = await fhir(clinic, f"/Appointment?patient={client['id']}", headers=scheduler)

    assert [a["id"] for a in resources(bundle)] == [session["id"]]


async def test_without_a_patient_the_search_spans_the_clinic_only(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    first = await clinic.client()
    second = await clinic.client(first_name="Ola")
    early = await clinic.prep(first["id"], clinic.clock.now + timedelta(days=1))
    late = await clinic.prep(second["id"], clinic.clock.now + timedelta(days=2))
    other = await bootstrap(app, http, clinic.clock)
    await other.prep((await other.client())["id"], clinic.clock.now + timedelta(days=1))

    bundle = await fhir(clinic, "/Appointment")

    assert [a["id"] for a in resources(bundle)] == [early["id"], late["id"]]


async def test_another_clinics_patient_matches_nothing(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    other = await bootstrap(app, http, clinic.clock)
    theirs = await other.client()
    session = await other.prep(theirs["id"], clinic.clock.now)

    response = await clinic.get(f"/fhir/R4/Appointment?patient={theirs['id']}")

    assert response.status_code == 200
    assert response.json()["total"] == 0
    assert "entry" not in response.json()
    assert session["id"] not in response.text
