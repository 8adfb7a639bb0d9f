"""Helpers for the FHIR tests: a journey worth exporting, vitals written into the row, and
validation of every resource against the R4B models (R4-compatible for what we export)."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import update

from app.clinics.bootstrap import Bootstrapped
from app.db import begin_write
from app.demo import fill_demo_clinic
from app.sessions.models import ClinicalSession
from tests.support.factories import T0, Clinic, FakeClock, iso

FHIR_JSON = "application/fhir+json"
Resource = dict[str, Any]

# FHIR code sets the models leave unchecked (they only check the code's shape).
APPOINTMENT_STATUSES = {
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
    "entered-in-error", "checked-in", "waitlist",
}  # fmt: skip
ENCOUNTER_STATUSES = {
    "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
    "entered-in-error", "unknown",
}  # fmt: skip
CONSENT_STATUSES = {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
CONSENT_SCOPES = {"adr", "research", "patient-privacy", "treatment"}


def validate(resource: Resource) -> Resource:
    """Validate with fhir.resources (R4B) and check the code sets it does not; returns it."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    for entry in resource.get("entry", []):
        validate(entry["resource"])
    if resource["resourceType"] == "Appointment":
        assert resource["status"] in APPOINTMENT_STATUSES
    if resource["resourceType"] == "Encounter":
        assert resource["status"] in ENCOUNTER_STATUSES
    if resource["resourceType"] == "Consent":
        assert resource["status"] in CONSENT_STATUSES
        [scope] = resource["scope"]["coding"]
        assert scope["system"] == "http://terminology.hl7.org/CodeSystem/consentscope"
        assert scope["code"] in CONSENT_SCOPES
        # ppc-1 (policy or policyRule) and ppc-2..5 (a patient), which the models leave unchecked.
        assert resource.get("policy") or resource.get("policyRule")
        assert resource["patient"]["reference"].startswith("Patient/")
    return resource


async def fhir(
    clinic: Clinic, path: str, status: int = 200, headers: dict[str, str] | None = None
) -> Resource:
    """GET a FHIR path, check status and media type, validate the body."""
    response = await clinic.get(f"/fhir/R4{path}", headers=headers)
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == FHIR_JSON
    body: Resource = response.json()
    return validate(body)


def resources(bundle: Resource, resource_type: str | None = None) -> list[Resource]:
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    entries = bundle.get("entry", [])
    assert bundle["total"] == len(entries)
    for entry in entries:
        assert entry["search"] == {"mode": "match"}
        kind, rid = entry["resource"]["resourceType"], entry["resource"]["id"]
        assert entry["fullUrl"] == f"http://kap.test/fhir/R4/{kind}/{rid}"
    found = [entry["resource"] for entry in entries]
    return [r for r in found if resource_type is None or r["resourceType"] == resource_type]


def vital(label: str, minutes: int, start: Any, **values: int | None) -> Resource:
    entry: Resource = {
        "taken_at": iso(start + timedelta(minutes=minutes)).replace("+00:00", "Z"),
        "label": label,
        "systolic": None,
        "diastolic": None,
        "heart_rate": None,
        "spo2": None,
    }
    return entry | values


async def write_vitals(app: FastAPI, session_id: str, vitals: list[Resource]) -> None:
    """Store a dosing record's vitals straight into the row (the dosing API is not ours)."""
    async with app.state.sessionmaker() as db:
        await begin_write(db)
        await db.execute(
            update(ClinicalSession)
            .where(ClinicalSession.id == uuid.UUID(session_id))
            .values(vitals=vitals)
        )
        await db.commit()


async def assess(
    clinic: Clinic, client_id: str, instrument: str, scores: list[int], **extra: Any
) -> Resource:
    body = {
        "instrument": instrument,
        "administered_at": iso(T0 - timedelta(days=1)),
        "item_scores": scores,
    }
    return await clinic.ok(
        "POST", f"/api/v1/clients/{client_id}/assessments", 201, json=body | extra
    )


@dataclass
class Journey:
    """A client with every status: completed prep and dose (with vitals), completed integration,
    a cancelled and a no-show session, a dose still booked, and PHQ-9/GAD-7/PCL-5 scores."""

    client: Resource
    clinician_id: str
    prep_id: str
    dose_id: str
    integration_id: str
    cancelled_id: str
    no_show_id: str
    booked_id: str
    phq9_id: str
    gad7_id: str
    pcl5_id: str


DOSE_AT = T0 - timedelta(days=3)
DOSE_VITALS = [
    vital("pre_dose", -5, DOSE_AT, systolic=128, diastolic=82, heart_rate=74, spo2=98),
    vital("peak", 40, DOSE_AT, systolic=142, diastolic=91, heart_rate=88, spo2=97),
    vital("discharge", 110, DOSE_AT, systolic=124, diastolic=80, heart_rate=70, spo2=99),
    vital("other", 70, DOSE_AT, systolic=None, diastolic=None, heart_rate=None, spo2=96),
]


async def journey(clinic: Clinic, app: FastAPI) -> Journey:
    clinician_id, _ = await clinic.staff("clinician")
    client = await clinic.prepared_client(
        prep_at=T0 - timedelta(days=10),
        preferred_name="May",
        email="maya@example.org",
        phone="+1 555 0100",
        primary_clinician_id=clinician_id,
    )
    cid = client["id"]
    sessions = (await clinic.ok("GET", f"/api/v1/preparation-sessions?client_id={cid}"))["items"]
    dose = await clinic.dose(cid, DOSE_AT, clinician_id=clinician_id)
    await clinic.action(
        "ketamine", dose["id"], "complete", ended_at=iso(DOSE_AT + timedelta(hours=2))
    )
    await write_vitals(app, dose["id"], DOSE_VITALS)
    integration = await clinic.integration(cid, T0 - timedelta(days=2), location="telehealth")
    await clinic.action("integration", integration["id"], "complete")
    no_show = await clinic.integration(cid, T0 - timedelta(days=1))
    await clinic.action("integration", no_show["id"], "no-show")
    cancelled = await clinic.prep(cid, T0 + timedelta(days=1))
    await clinic.action("preparation", cancelled["id"], "cancel", reason="Client unwell")
    booked = await clinic.dose(cid, T0 + timedelta(days=5))
    phq9 = await assess(
        clinic, cid, "phq9", [2, 2, 2, 1, 1, 2, 1, 1, 0], session_id=integration["id"]
    )
    gad7 = await assess(clinic, cid, "gad7", [1, 1, 1, 1, 1, 1, 1])
    pcl5 = await assess(clinic, cid, "pcl5", [1] * 20)
    return Journey(
        client, clinician_id, sessions[0]["id"], dose["id"], integration["id"], cancelled["id"],
        no_show["id"], booked["id"], phq9["id"], gad7["id"], pcl5["id"],
    )  # fmt: skip


async def demo_clinic(app: FastAPI, clock: FakeClock, *, clients: int, seed: int) -> str:
    """A demo clinic (`kap-journey demo`) on the suite database at the clock's now; returns
    the admin's key."""
    async with app.state.sessionmaker() as db:
        await begin_write(db)
        made: Bootstrapped = await fill_demo_clinic(
            db,
            clinic_name="Demo KAP Clinic",
            timezone="America/Los_Angeles",
            clients=clients,
            seed=seed,
            now=clock.now,
        )
        await db.commit()
    return made.api_key
