"""Consents as FHIR R4 Consent: read by id, searched by patient and status, in $everything;
clinical roles only. Every resource is validated with fhir.resources (tests/fhir/support.py)."""

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tests.fhir.support import fhir, resources
from tests.support.factories import T0, Clinic, bootstrap

SIGNED = T0 - timedelta(days=30)
EXPIRES = T0 + timedelta(days=335)
HOUR = timedelta(hours=1)
LOINC = "http://loinc.org"
OURS = "https://kap-journey.dev/fhir"


async def _consent(clinic: Clinic, client_id: str, kind: str, **extra: Any) -> dict[str, Any]:
    body = {
        "kind": kind,
        "document_version": "KAP consent v3/2026",
        "signed_at": SIGNED.isoformat(),
    }
    url = f"/api/v1/clients/{client_id}/consents"
    return await clinic.ok("POST", url, 201, json=body | extra)


async def _withdraw(clinic: Clinic, client_id: str, consent_id: str) -> dict[str, Any]:
    url = f"/api/v1/clients/{client_id}/consents/{consent_id}/withdraw"
    return await clinic.ok("POST", url, json={"reason": "Client asked to stop recordings"})


async def test_an_active_consent_reads_as_a_treatment_consent(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await _consent(clinic, client["id"], "kap_treatment", expires_at=EXPIRES.isoformat())

    consent = await fhir(clinic, f"/Consent/{made['id']}")

    patient = {"reference": f"Patient/{client['id']}"}
    assert consent == {
        "resourceType": "Consent",
        "id": made["id"],
        "meta": {"versionId": "1", "lastUpdated": "2026-03-02T12:00:00Z"},
        "extension": [
            {"url": f"{OURS}/StructureDefinition/consent-status", "valueCode": "active"}
        ],
        "identifier": [{"system": f"{OURS}/consent-id", "value": made["id"]}],
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "treatment",
                    "display": "Treatment",
                }
            ]
        },
        "category": [
            {"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]},
            {
                "coding": [
                    {
                        "system": f"{OURS}/CodeSystem/consent-kind",
                        "code": "kap_treatment",
                        "display": "KAP treatment consent",
                    }
                ],
                "text": "KAP treatment consent",
            },
        ],
        "patient": patient,
        "dateTime": "2026-01-31T12:00:00Z",
        "performer": [patient],
        "sourceAttachment": {"title": "KAP consent v3/2026"},
        "policy": [{"uri": f"{OURS}/consent-document/kap_treatment/KAP%20consent%20v3%2F2026"}],
        "provision": {
            "type": "permit",
            "period": {"start": "2026-01-31T12:00:00Z", "end": "2027-01-31T12:00:00Z"},
        },
    }  # fmt: skip


async def test_withdrawn_and_expired_consents_are_inactive(clinic: Clinic) -> None:
    client = await clinic.client()
    recording = await _consent(clinic, client["id"], "recording")
    lapsed = await _consent(
        clinic, client["id"], "data_sharing", expires_at=(T0 - timedelta(days=1)).isoformat()
    )
    await _withdraw(clinic, client["id"], recording["id"])

    withdrawn = await fhir(clinic, f"/Consent/{recording['id']}")
    expired = await fhir(clinic, f"/Consent/{lapsed['id']}")

    assert (withdrawn["status"], expired["status"]) == ("inactive", "inactive")
    assert withdrawn["meta"]["versionId"] == "2"
    assert withdrawn["scope"]["coding"][0]["code"] == "patient-privacy"
    [status, withdrawal] = withdrawn["extension"]
    assert status["valueCode"] == "withdrawn"
    assert withdrawal == {
        "url": f"{OURS}/StructureDefinition/consent-withdrawal",
        "extension": [
            {"url": "withdrawnAt", "valueDateTime": "2026-03-02T12:00:00Z"},
            {"url": "reason", "valueString": "Client asked to stop recordings"},
        ],
    }
    assert "end" not in withdrawn["provision"]["period"]  # the terms stay as signed
    assert expired["extension"] == [
        {"url": f"{OURS}/StructureDefinition/consent-status", "valueCode": "expired"}
    ]
    assert expired["category"][0]["coding"][0]["code"] == "64292-6"  # release of information


async def test_search_by_patient_and_status(clinic: Clinic) -> None:
    client, other = await clinic.client(), await clinic.client(last_name="Other")
    kinds = ["kap_treatment", "esketamine_rems_enrollment", "telehealth", "recording"]
    made = [
        await _consent(clinic, client["id"], kind, signed_at=(SIGNED + i * HOUR).isoformat())
        for i, kind in enumerate(kinds)
    ]
    await _withdraw(clinic, client["id"], made[3]["id"])
    await _consent(clinic, other["id"], "kap_treatment")
    active, inactive = [m["id"] for m in made[:3]], [made[3]["id"]]

    async def ids(query: str) -> list[str]:
        bundle = await fhir(clinic, f"/Consent?patient={client['id']}{query}")
        return [r["id"] for r in resources(bundle, "Consent")]

    assert await ids("") == active + inactive
    assert await ids("&status=active") == active
    assert await ids("&status=inactive") == inactive
    assert await ids("&status=http://hl7.org/fhir/consent-state-codes|inactive") == inactive
    assert await ids("&status=active,inactive") == active + inactive
    assert await ids("&status=rejected") == []
    # Without a patient the search spans the clinic: the other client's consent joins in.
    clinic_wide = await fhir(clinic, "/Consent?status=active")
    assert len(resources(clinic_wide, "Consent")) == len(active) + 1


async def test_everything_carries_the_consents_after_the_rest(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await _consent(clinic, client["id"], "kap_treatment")
    rems = await _consent(
        clinic, client["id"], "esketamine_rems_enrollment", signed_at=(SIGNED + HOUR).isoformat()
    )
    await clinic.prep(client["id"], T0 + timedelta(days=1))

    bundle = await fhir(clinic, f"/Patient/{client['id']}/$everything")

    found = resources(bundle)
    assert [r["resourceType"] for r in found] == ["Patient", "Appointment", "Consent", "Consent"]
    assert [r["id"] for r in found[2:]] == [made["id"], rems["id"]]
    assert {r["patient"]["reference"] for r in found[2:]} == {f"Patient/{client['id']}"}


async def test_a_scheduler_gets_no_consent(clinic: Clinic) -> None:
    _, headers = await clinic.staff("scheduler")
    client = await clinic.client()
    made = await _consent(clinic, client["id"], "kap_treatment")

    for path in (f"/Consent/{made['id']}", f"/Consent?patient={client['id']}"):
        outcome = await fhir(clinic, path, status=403, headers=headers)
        assert outcome["issue"][0]["code"] == "forbidden"
        assert made["id"] not in str(outcome)


async def test_another_clinics_consent_is_not_found(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    other = await bootstrap(app, http, clinic.clock)
    theirs = await other.client()
    made = await _consent(other, theirs["id"], "kap_treatment")

    for consent_id in (made["id"], "not-a-uuid"):
        outcome = await fhir(clinic, f"/Consent/{consent_id}", status=404)
        assert outcome["issue"][0]["code"] == "not-found"
    bundle = await fhir(clinic, f"/Consent?patient={theirs['id']}")
    assert bundle["total"] == 0
    assert made["id"] not in str(bundle)


async def test_consent_reads_are_audited(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await _consent(clinic, client["id"], "kap_treatment")

    await fhir(clinic, f"/Consent/{made['id']}")
    await fhir(clinic, f"/Consent?patient={client['id']}")

    page = await clinic.ok("GET", f"/api/v1/audit-events?resource_id={made['id']}")
    actions = {(e["action"], e["resource_type"]) for e in page["items"]}
    assert {("get_fhir_consent", "consent"), ("list_fhir_consents", "consent")} <= actions
