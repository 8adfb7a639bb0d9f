"""GET /fhir/R4/Observation?patient=: dosing vitals and PHQ-9/GAD-7 totals, LOINC coded."""

from typing import Any

import httpx
from fastapi import FastAPI

from tests.fhir.support import fhir, journey, resources
from tests.self_report.support import answers, create_link, submit
from tests.support.factories import Clinic

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def codes(observation: dict[str, Any]) -> list[str]:
    return [c["code"] for c in observation["code"]["coding"] if c["system"] == LOINC]


def by_code(found: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [o for o in found if code in codes(o)]


async def test_vitals_are_loinc_vital_signs(clinic: Clinic, app: FastAPI) -> None:
    made = await journey(clinic, app)

    bundle = await fhir(clinic, f"/Observation?patient={made.client['id']}&category=vital-signs")

    found = resources(bundle, "Observation")
    assert len(found) == 3 + 3 + 3 + 1  # BP, HR and SpO2 thrice, then a lone SpO2 reading
    for observation in found:
        assert observation["category"][0]["coding"][0]["code"] == "vital-signs"
        assert observation["encounter"] == {"reference": f"Encounter/{made.dose_id}"}
        assert observation["subject"] == {"reference": f"Patient/{made.client['id']}"}
    pressures = by_code(found, "85354-9")
    assert [p["effectiveDateTime"] for p in pressures] == [
        "2026-02-27T11:55:00Z",
        "2026-02-27T12:40:00Z",
        "2026-02-27T13:50:00Z",
    ]
    peak = pressures[1]
    assert peak["extension"][0]["valueCode"] == "peak"
    systolic, diastolic = peak["component"]
    assert systolic["code"]["coding"][0]["code"] == "8480-6"
    assert diastolic["code"]["coding"][0]["code"] == "8462-4"
    assert systolic["valueQuantity"] == {
        "value": 142,
        "unit": "mmHg",
        "system": UCUM,
        "code": "mm[Hg]",
    }
    assert diastolic["valueQuantity"]["value"] == 91
    rates = by_code(found, "8867-4")
    assert [r["valueQuantity"]["value"] for r in rates] == [74, 88, 70]
    assert rates[0]["valueQuantity"]["code"] == "/min"
    oximetry = by_code(found, "59408-5")
    assert [o["valueQuantity"]["value"] for o in oximetry] == [98, 97, 96, 99]
    assert {"2708-6", "59408-5"} <= set(codes(oximetry[0]))
    assert oximetry[0]["valueQuantity"]["code"] == "%"
    assert {o["extension"][0]["valueCode"] for o in oximetry} == {
        "pre_dose",
        "peak",
        "discharge",
        "other",
    }


async def test_scores_are_survey_observations(clinic: Clinic, app: FastAPI) -> None:
    made = await journey(clinic, app)
    _, clinician = await clinic.staff("clinician")

    bundle = await fhir(
        clinic, f"/Observation?patient={made.client['id']}&category=survey", headers=clinician
    )

    found = {o["id"]: o for o in resources(bundle, "Observation")}
    assert set(found) == {made.phq9_id, made.gad7_id, made.pcl5_id}
    phq9, gad7, pcl5 = found[made.phq9_id], found[made.gad7_id], found[made.pcl5_id]
    assert codes(phq9) == ["44261-6"]
    assert codes(gad7) == ["70274-6"]
    assert codes(pcl5) == ["101698-9"]  # PTSD PCL-5 score, of the PCL-5 panel 101697-1
    assert (phq9["valueInteger"], gad7["valueInteger"], pcl5["valueInteger"]) == (12, 7, 20)
    assert "interpretation" not in pcl5  # the PCL-5 has no severity bands
    assert phq9["interpretation"][0]["text"] == "moderate"
    assert gad7["interpretation"][0]["text"] == "mild"
    assert phq9["category"][0]["coding"][0]["code"] == "survey"
    assert phq9["effectiveDateTime"] == "2026-03-01T12:00:00Z"
    assert phq9["encounter"] == {"reference": f"Encounter/{made.integration_id}"}
    assert "encounter" not in gad7


async def test_without_category_both_kinds_come_back(clinic: Clinic, app: FastAPI) -> None:
    made = await journey(clinic, app)

    everything = await fhir(clinic, f"/Observation?patient={made.client['id']}")
    either = await fhir(
        clinic,
        f"/Observation?patient={made.client['id']}"
        "&category=http://terminology.hl7.org/CodeSystem/observation-category|survey,vital-signs",
    )
    nothing = await fhir(clinic, f"/Observation?patient={made.client['id']}&category=laboratory")

    assert everything["total"] == either["total"] == 13
    assert nothing["total"] == 0


async def test_the_performer_says_who_answered(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    """A score the client gave on a self-report link names the patient as performer; one staff
    entered names the staff member, so a reader can tell the two apart."""
    made = await journey(clinic, app)
    cid = made.client["id"]
    link = await create_link(clinic, cid, "gad7")
    answered = await submit(http, link, answers("gad7", 2))
    assert answered.status_code == 200, answered.text

    bundle = await fhir(clinic, f"/Observation?patient={cid}&code={LOINC}|70274-6")

    performers = {o["valueInteger"]: o["performer"] for o in resources(bundle, "Observation")}
    assert performers == {
        7: [{"reference": f"Practitioner/{clinic.admin_id}"}],
        14: [{"reference": f"Patient/{cid}"}],
    }
