"""A clinic worth fuzzing: one of every object a path parameter can name, made through the API.

Generated requests that carry these ids reach the code behind a 404, so their 200s, 201s and
409s are checked against the schema too, not only the error paths random UUIDs get.
"""

from dataclasses import dataclass
from datetime import timedelta

import httpx
from fastapi import FastAPI

from app.screenings.schemas import CONTRAINDICATION_CODES
from tests.inbound.payloads import standard_body, standard_headers
from tests.inbound.support import SECRETS, drain, make_integration
from tests.support.factories import T0, Clinic, FakeClock, bootstrap

DAY = timedelta(days=1)
SESSION_KINDS = ("preparation", "ketamine", "integration")
WEBHOOK_URL = "http://127.0.0.1:9/hooks"  # an allowed host; no worker runs here to call it


@dataclass(frozen=True)
class SeededClinic:
    """The token a role's requests carry, and the ids its generated requests may name.

    `disposable` holds the ids offered to DELETE instead: deleting the objects every other
    operation is offered would leave those operations nothing but 404s for the rest of the run.
    """

    token: str
    ids: dict[str, list[str]]
    disposable: dict[str, list[str]]


async def _unmatched_booking(app: FastAPI, clinic: Clinic, integration_id: str, n: int) -> str:
    """A signed booking for someone who is no client: it waits in /unmatched-bookings."""
    body = standard_body(
        "booking.created",
        booking_id=f"contract-{n}",
        start=T0 + (10 + n) * DAY,
        end=T0 + (10 + n) * DAY + timedelta(hours=1),
        attendee_email=f"stranger{n}@example.org",
        kind="integration",
    )
    headers = standard_headers(SECRETS["standard"], body, T0)
    accepted = await clinic.http.post(
        f"/api/v1/inbound/{integration_id}", content=body, headers=headers
    )
    assert accepted.status_code == 202, accepted.text
    await drain(app)
    page = await clinic.ok("GET", f"/api/v1/unmatched-bookings?integration_id={integration_id}")
    return str(next(item["id"] for item in page["items"] if item["booking_id"] == f"contract-{n}"))


async def seed_clinic(
    app: FastAPI, http: httpx.AsyncClient, clock: FakeClock, role: str
) -> SeededClinic:
    """A clinic with staff, keys, clients at every stage, sessions, webhooks and inbound work.

    The member whose token the run uses is never offered as a path id, so a generated
    `PATCH /staff/{id} {"active": false}` or `DELETE /api-keys/{id}` cannot lock the run out.
    """
    clock.set(T0)
    clinic = await bootstrap(app, http, clock)
    clinician_id, _ = await clinic.staff("clinician")
    scheduler_id, scheduler_headers = await clinic.staff("scheduler")
    token = scheduler_headers["Authorization"].removeprefix("Bearer ")
    if role == "admin":
        token = clinic.admin_key
    other_staff = [clinician_id] if role == "scheduler" else [clinician_id, scheduler_id]
    spare_key = await clinic.ok(
        "POST", "/api/v1/api-keys", 201, json={"staff_id": clinician_id, "name": "spare"}
    )
    calendar = await clinic.ok("POST", f"/api/v1/staff/{clinician_id}/calendar-token", 201)

    dosed = await clinic.prepared_client(
        email="maya.okafor@example.org", primary_clinician_id=clinician_id
    )
    newcomer = await clinic.client(first_name="Ari", last_name="Levin")
    sessions: dict[str, list[str]] = {kind: [] for kind in SESSION_KINDS}
    done = await clinic.dose(dosed["id"], T0 - 3 * DAY)
    clock.set(T0 - 2 * DAY)
    await clinic.action("ketamine", done["id"], "complete")
    clock.set(T0)
    integration = await clinic.integration(dosed["id"], T0 - DAY, ketamine_session_id=done["id"])
    upcoming_dose = await clinic.dose(dosed["id"], T0 + 7 * DAY)
    upcoming_integration = await clinic.integration(dosed["id"], T0 + 8 * DAY)
    first_prep = await clinic.prep(newcomer["id"], T0 + 2 * DAY)
    sessions["ketamine"] += [done["id"], upcoming_dose["id"]]
    sessions["integration"] += [integration["id"], upcoming_integration["id"]]
    sessions["preparation"].append(first_prep["id"])
    assessment = await clinic.ok(
        "POST",
        f"/api/v1/clients/{dosed['id']}/assessments",
        201,
        json={
            "instrument": "phq9",
            "administered_at": (T0 - DAY).isoformat(),
            "item_scores": [2, 2, 1, 2, 1, 1, 2, 1, 0],
        },
    )
    consent = await clinic.ok(
        "POST",
        f"/api/v1/clients/{dosed['id']}/consents",
        201,
        json={
            "kind": "kap_treatment",
            "document_version": "v1",
            "signed_at": (T0 - 30 * DAY).isoformat(),
        },
    )
    flagged = await clinic.ok(
        "POST",
        f"/api/v1/clients/{dosed['id']}/assessments",
        201,
        json={
            "instrument": "phq9",
            "administered_at": T0.isoformat(),
            "item_scores": [1, 1, 1, 1, 1, 1, 1, 1, 1],
        },
    )
    reviews = await clinic.ok("GET", "/api/v1/safety-reviews", params={"client_id": dosed["id"]})
    review_ids = [r["id"] for r in reviews["items"] if r["assessment_id"] == flagged["id"]]
    screening = await clinic.ok(
        "POST",
        f"/api/v1/clients/{dosed['id']}/screenings",
        201,
        json={
            "screened_at": (T0 - 20 * DAY).isoformat(),
            "contraindications": dict.fromkeys(CONTRAINDICATION_CODES, False),
            "decision": "cleared",
        },
    )

    endpoint, doomed_endpoint = [
        await clinic.ok(
            "POST",
            "/api/v1/webhook-endpoints",
            201,
            json={"url": WEBHOOK_URL, "event_types": ["session.scheduled"]},
        )
        for _ in range(2)
    ]
    delivery = await clinic.ok("POST", f"/api/v1/webhook-endpoints/{endpoint['id']}/test", 202)
    scheduler_integration = await make_integration(clinic, "standard")
    doomed_integration = await make_integration(clinic, "standard")
    unmatched = [
        await _unmatched_booking(app, clinic, scheduler_integration["id"], n) for n in range(2)
    ]

    return SeededClinic(
        token=token,
        ids={
            "staff_id": other_staff,
            "client_id": [dosed["id"], newcomer["id"]],
            "patient_id": [dosed["id"], newcomer["id"]],
            "clinician_id": [clinician_id],
            "endpoint_id": [endpoint["id"]],
            "delivery_id": [delivery["id"]],
            "integration_id": [scheduler_integration["id"]],
            "unmatched_id": unmatched,
            "assessment_id": [assessment["id"], flagged["id"]],
            "consent_id": [consent["id"]],
            "review_id": review_ids,
            "screening_id": [screening["id"]],
            "token": [calendar["token"]],
            "url": [WEBHOOK_URL],
            **{f"{kind}-sessions": ids for kind, ids in sessions.items()},
        },
        disposable={
            "key_id": [spare_key["id"]],
            "endpoint_id": [doomed_endpoint["id"]],
            "integration_id": [doomed_integration["id"]],
        },
    )
