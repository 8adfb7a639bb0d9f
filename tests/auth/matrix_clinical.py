"""Calls naming a new clinical record of the matrix world's client: an assessment, a safety
review, a screening, a consent, a self-report link, and their FHIR reads."""

from datetime import timedelta
from typing import Any

from app.screenings.schemas import CONTRAINDICATION_CODES
from tests.auth.matrix_world import Call, Make, World
from tests.support.factories import T0


async def assessment_read(world: World) -> Call:
    url = f"/api/v1/clients/{world.client_id}/assessments"
    body = {"instrument": "phq9", "item_scores": [0] * 9, "administered_at": T0.isoformat()}
    made = await world.clinic.ok("POST", url, 201, json=body)
    return Call("GET", f"{url}/{made['id']}")


def review_call(method: str, suffix: str = "", body: dict[str, Any] | None = None) -> Make:
    """A new open safety review of the world's client (a PHQ-9 with item 9 above 0)."""

    async def make(world: World) -> Call:
        url = f"/api/v1/clients/{world.client_id}/assessments"
        phq9 = {"instrument": "phq9", "item_scores": [1] * 9, "administered_at": T0.isoformat()}
        made = await world.clinic.ok("POST", url, 201, json=phq9)
        page = await world.clinic.ok("GET", "/api/v1/safety-reviews", params={"status": "open"})
        [review] = [r for r in page["items"] if r["assessment_id"] == made["id"]]
        return Call(method, f"/api/v1/safety-reviews/{review['id']}{suffix}", body)

    return make


SCREENING = {
    "screened_at": T0.isoformat(),
    "contraindications": dict.fromkeys(CONTRAINDICATION_CODES, False),
    "decision": "pending",
}


async def screening_read(world: World) -> Call:
    url = f"/api/v1/clients/{world.client_id}/screenings"
    made = await world.clinic.ok("POST", url, 201, json=SCREENING)
    return Call("GET", f"{url}/{made['id']}")


CONSENT = {
    "kind": "kap_treatment",
    "document_version": "v1",
    "signed_at": (T0 - timedelta(days=1)).isoformat(),
}


def consent_call(method: str, template: str, body: dict[str, Any] | None = None) -> Make:
    """A call naming a new consent of the world's client (`template` takes client, consent)."""

    async def make(world: World) -> Call:
        url = f"/api/v1/clients/{world.client_id}/consents"
        made = await world.clinic.ok("POST", url, 201, json=CONSENT)
        return Call(method, template.format(client=world.client_id, consent=made["id"]), body)

    return make


async def fhir_practitioner(world: World) -> Call:
    return Call("GET", f"/fhir/R4/Practitioner/{world.clinician_id}")


async def fhir_observation(world: World) -> Call:
    """The FHIR Observation of a new PHQ-9 total of the world's client."""
    read = await assessment_read(world)
    return Call("GET", f"/fhir/R4/Observation/{read.path.rsplit('/', 1)[-1]}")


def fhir_session(resource_type: str, *, complete: bool) -> Make:
    """A new preparation session of the world's client (completed: an Encounter) by FHIR id."""

    async def make(world: World) -> Call:
        session = await world.session("preparation")
        if complete:
            url = f"/api/v1/preparation-sessions/{session['id']}/complete"
            await world.clinic.ok("POST", url, json={})
        return Call("GET", f"/fhir/R4/{resource_type}/{session['id']}")

    return make


def link_call(method: str, suffix: str = "", body: dict[str, Any] | None = None) -> Make:
    """A call naming a new self-report link of the world's client."""

    async def make(world: World) -> Call:
        url = f"/api/v1/clients/{world.client_id}/assessment-requests"
        made = await world.clinic.ok("POST", url, 201, json={"instrument": "gad7"})
        return Call(method, f"{url}/{made['id']}{suffix}", body)

    return make
