"""The authorization matrix's route table: for each operation, who may call it and how to build
a call to it in a fresh world (tests/auth/test_matrix.py runs it).

Every route of the OpenAPI document needs an entry here: test_matrix fails on a missing one.
"""

from datetime import timedelta
from typing import Any

from tests.auth.matrix_clinical import (
    CONSENT,
    SCREENING,
    assessment_read,
    consent_call,
    fhir_observation,
    fhir_practitioner,
    fhir_session,
    link_call,
    review_call,
    screening_read,
)
from tests.auth.matrix_world import Call, Make, World
from tests.inbound.payloads import standard_body, standard_headers
from tests.inbound.support import SECRETS, drain, make_integration
from tests.support.factories import T0

ALL = frozenset({"admin", "clinician", "scheduler"})
CLINICAL = frozenset({"admin", "clinician"})
ADMIN = frozenset({"admin"})
PUBLIC = frozenset({"public"})
SIGNED = frozenset({"signed"})  # no bearer token: the provider's signature on the body
FEED = frozenset({"feed"})  # no bearer token: the feed token in the URL


def fixed(method: str, path: str, body: dict[str, Any] | None = None) -> Make:
    async def make(world: World) -> Call:
        return Call(method, path.format(client=world.client_id), body)

    return make


def session_action(kind: str, action: str, body: dict[str, Any] | None = None) -> Make:
    async def make(world: World) -> Call:
        session = await world.session(kind)
        return Call("POST", f"/api/v1/{kind}-sessions/{session['id']}/{action}", body)

    return make


def session_read(kind: str) -> Make:
    async def make(world: World) -> Call:
        return Call("GET", f"/api/v1/{kind}-sessions/{(await world.session(kind))['id']}")

    return make


def session_corrections(kind: str) -> Make:
    async def make(world: World) -> Call:
        session = await world.session(kind)
        return Call("GET", f"/api/v1/{kind}-sessions/{session['id']}/corrections")

    return make


def session_update(kind: str) -> Make:
    async def make(world: World) -> Call:
        session = await world.session(kind)
        return Call("PATCH", f"/api/v1/{kind}-sessions/{session['id']}", {"location": "telehealth"})

    return make


def session_create(kind: str) -> Make:
    async def make(world: World) -> Call:
        at = world.past()
        body = {
            "client_id": world.client_id,
            "clinician_id": world.clinician_id,
            "starts_at": at.isoformat(),
            "ends_at": (at + timedelta(hours=1)).isoformat(),
        }
        return Call(
            "POST",
            f"/api/v1/{kind}-sessions",
            body | ({"route": "iv"} if kind == "ketamine" else {}),
        )

    return make


def new_client(action: str, archived: bool = False) -> Make:
    async def make(world: World) -> Call:
        client_id = await world.client()
        if archived:
            await world.clinic.ok("POST", f"/api/v1/clients/{client_id}/archive")
        return Call("POST", f"/api/v1/clients/{client_id}/{action}")

    return make


async def _staff(world: World) -> Call:
    return Call("GET", f"/api/v1/staff/{world.clinician_id}")


async def _update_staff(world: World) -> Call:
    return Call("PATCH", f"/api/v1/staff/{world.clinician_id}", {"name": "Renamed"})


async def _create_key(world: World) -> Call:
    return Call("POST", "/api/v1/api-keys", {"staff_id": world.clinician_id, "name": "m"})


async def _revoke_key(world: World) -> Call:
    key = await world.clinic.ok(
        "POST", "/api/v1/api-keys", 201, json={"staff_id": world.clinician_id, "name": "r"}
    )
    return Call("DELETE", f"/api/v1/api-keys/{key['id']}")


async def _create_staff(world: World) -> Call:
    return Call(
        "POST",
        "/api/v1/staff",
        {"email": f"s{next(world.slot)}@m.example", "name": "S", "role": "scheduler"},
    )


def _calendar_token(world: World) -> str:
    return f"/api/v1/staff/{world.clinician_id}/calendar-token"


async def _issue_calendar_token(world: World) -> Call:
    # The world's clinician: admin (anyone's) and clinician (their own) may, a scheduler not.
    return Call("POST", _calendar_token(world))


async def _revoke_calendar_token(world: World) -> Call:
    await world.clinic.ok("POST", _calendar_token(world), 201)
    return Call("DELETE", _calendar_token(world))


async def _calendar_feed(world: World) -> Call:
    """A feed with a live token, asked for with a wrong one: headers alone must not open it."""
    await world.clinic.ok("POST", _calendar_token(world), 201)
    token = "kapcal_000000000000_not-the-token"
    return Call("GET", f"/api/v1/staff/{world.clinician_id}/calendar.ics?token={token}")


HOOK = {"url": "http://127.0.0.1:9/hook", "event_types": ["session.scheduled"]}


async def _endpoint(world: World) -> str:
    made = await world.clinic.ok("POST", "/api/v1/webhook-endpoints", 201, json=HOOK)
    return str(made["id"])


def endpoint_call(method: str, suffix: str = "", body: dict[str, Any] | None = None) -> Make:
    async def make(world: World) -> Call:
        return Call(method, f"/api/v1/webhook-endpoints/{await _endpoint(world)}{suffix}", body)

    return make


async def _resend(world: World) -> Call:
    endpoint_id = await _endpoint(world)
    delivery = await world.clinic.ok("POST", f"/api/v1/webhook-endpoints/{endpoint_id}/test", 202)
    path = f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery['id']}/resend"
    return Call("POST", path)


async def _integration(world: World) -> str:
    made = await make_integration(world.clinic, "standard")
    return str(made["id"])


def integration_call(method: str, suffix: str = "", body: dict[str, Any] | None = None) -> Make:
    async def make(world: World) -> Call:
        path = f"/api/v1/scheduling-integrations/{await _integration(world)}{suffix}"
        return Call(method, path, body)

    return make


async def _inbound(world: World) -> Call:
    return Call("POST", f"/api/v1/inbound/{await _integration(world)}", {"type": "booking.created"})


def unmatched_call(method: str, suffix: str = "", resolve: bool = False) -> Make:
    """An open unmatched booking (its attendee is nobody) of the world's clinic."""

    async def make(world: World) -> Call:
        integration_id = await _integration(world)
        at = world.past()
        body = standard_body(
            "booking.created",
            booking_id=f"bk_{next(world.slot)}",
            start=at,
            end=at + timedelta(hours=1),
            attendee_email="nobody@example.org",
            kind="integration",
        )
        headers = standard_headers(SECRETS["standard"], body, world.clinic.clock.now)
        posted = await world.clinic.http.post(
            f"/api/v1/inbound/{integration_id}", content=body, headers=headers
        )
        assert posted.status_code == 202, posted.text
        await drain(world.app)
        page = await world.clinic.ok(
            "GET", f"/api/v1/unmatched-bookings?integration_id={integration_id}"
        )
        path = f"/api/v1/unmatched-bookings/{page['items'][0]['id']}{suffix}"
        return Call(method, path, {"client_id": world.client_id} if resolve else None)

    return make


SPECS: dict[str, tuple[frozenset[str], Make]] = {
    "create_scheduling_integration": (
        ADMIN,
        fixed(
            "POST",
            "/api/v1/scheduling-integrations",
            {"provider": "calcom", "name": "C", "signing_secret": SECRETS["calcom"]},
        ),
    ),
    "list_scheduling_integrations": (ADMIN, fixed("GET", "/api/v1/scheduling-integrations")),
    "get_scheduling_integration": (ADMIN, integration_call("GET")),
    "update_scheduling_integration": (ADMIN, integration_call("PATCH", "", {"name": "N"})),
    "delete_scheduling_integration": (ADMIN, integration_call("DELETE")),
    "list_inbound_deliveries": (ADMIN, integration_call("GET", "/deliveries")),
    "receive_inbound_delivery": (SIGNED, _inbound),
    "list_unmatched_bookings": (ALL, fixed("GET", "/api/v1/unmatched-bookings")),
    "get_unmatched_booking": (ALL, unmatched_call("GET")),
    "resolve_unmatched_booking": (ALL, unmatched_call("POST", "/resolve", resolve=True)),
    "dismiss_unmatched_booking": (ALL, unmatched_call("POST", "/dismiss")),
    "create_webhook_endpoint": (ADMIN, fixed("POST", "/api/v1/webhook-endpoints", HOOK)),
    "list_webhook_endpoints": (ADMIN, fixed("GET", "/api/v1/webhook-endpoints")),
    "get_webhook_endpoint": (ADMIN, endpoint_call("GET")),
    "update_webhook_endpoint": (ADMIN, endpoint_call("PATCH", "", {"description": "d"})),
    "delete_webhook_endpoint": (ADMIN, endpoint_call("DELETE")),
    "rotate_webhook_secret": (ADMIN, endpoint_call("POST", "/rotate-secret")),
    "test_webhook_endpoint": (ADMIN, endpoint_call("POST", "/test")),
    "list_webhook_deliveries": (ADMIN, endpoint_call("GET", "/deliveries")),
    "resend_webhook_delivery": (ADMIN, _resend),
    "get_health": (PUBLIC, fixed("GET", "/healthz")),
    "get_readiness": (PUBLIC, fixed("GET", "/readyz")),
    "get_metrics": (PUBLIC, fixed("GET", "/metrics")),
    "get_clinic": (ALL, fixed("GET", "/api/v1/clinic")),
    "update_clinic": (ADMIN, fixed("PATCH", "/api/v1/clinic", {"name": "Renamed clinic"})),
    "create_staff": (ADMIN, _create_staff),
    "list_staff": (ADMIN, fixed("GET", "/api/v1/staff")),
    "get_staff": (ADMIN, _staff),
    "update_staff": (ADMIN, _update_staff),
    "create_api_key": (ADMIN, _create_key),
    "list_api_keys": (ADMIN, fixed("GET", "/api/v1/api-keys")),
    "revoke_api_key": (ADMIN, _revoke_key),
    "issue_calendar_token": (CLINICAL, _issue_calendar_token),
    "revoke_calendar_token": (CLINICAL, _revoke_calendar_token),
    "get_calendar_feed": (FEED, _calendar_feed),
    "create_client": (
        CLINICAL,
        fixed(
            "POST",
            "/api/v1/clients",
            {"first_name": "N", "last_name": "C", "date_of_birth": "1990-01-01"},
        ),
    ),
    "list_clients": (ALL, fixed("GET", "/api/v1/clients")),
    "get_client": (ALL, fixed("GET", "/api/v1/clients/{client}")),
    "update_client": (
        CLINICAL,
        fixed("PATCH", "/api/v1/clients/{client}", {"preferred_name": "P"}),
    ),
    "archive_client": (CLINICAL, new_client("archive")),
    "unarchive_client": (CLINICAL, new_client("unarchive", archived=True)),
    "get_journey": (ALL, fixed("GET", "/api/v1/clients/{client}/journey")),
    "create_assessment": (
        CLINICAL,
        fixed(
            "POST",
            "/api/v1/clients/{client}/assessments",
            {"instrument": "gad7", "item_scores": [1] * 7, "administered_at": T0.isoformat()},
        ),
    ),
    "create_screening": (
        CLINICAL,
        fixed("POST", "/api/v1/clients/{client}/screenings", SCREENING),
    ),
    "list_screenings": (CLINICAL, fixed("GET", "/api/v1/clients/{client}/screenings")),
    "get_screening": (CLINICAL, screening_read),
    "list_assessments": (CLINICAL, fixed("GET", "/api/v1/clients/{client}/assessments")),
    "get_assessment": (CLINICAL, assessment_read),
    "get_assessment_trajectory": (
        CLINICAL,
        fixed("GET", "/api/v1/clients/{client}/assessments/trajectory"),
    ),
    "create_assessment_request": (
        CLINICAL,
        fixed("POST", "/api/v1/clients/{client}/assessment-requests", {"instrument": "phq9"}),
    ),
    "list_assessment_requests": (
        CLINICAL,
        fixed("GET", "/api/v1/clients/{client}/assessment-requests"),
    ),
    "get_assessment_request": (CLINICAL, link_call("GET")),
    "revoke_assessment_request": (CLINICAL, link_call("POST", "/revoke")),
    "create_consent": (CLINICAL, fixed("POST", "/api/v1/clients/{client}/consents", CONSENT)),
    "list_consents": (CLINICAL, fixed("GET", "/api/v1/clients/{client}/consents")),
    "get_consent": (
        CLINICAL,
        consent_call("GET", "/api/v1/clients/{client}/consents/{consent}"),
    ),
    "withdraw_consent": (
        CLINICAL,
        consent_call(
            "POST", "/api/v1/clients/{client}/consents/{consent}/withdraw", {"reason": "m"}
        ),
    ),
    "list_safety_reviews": (CLINICAL, fixed("GET", "/api/v1/safety-reviews")),
    "get_safety_review": (CLINICAL, review_call("GET")),
    "resolve_safety_review": (
        CLINICAL,
        review_call("POST", "/resolve", {"action": "crisis_resources_given"}),
    ),
    "get_integration_worklist": (ALL, fixed("GET", "/api/v1/worklists/integration")),
    "list_audit_events": (ADMIN, fixed("GET", "/api/v1/audit-events")),
    "export_audit_events": (ADMIN, fixed("GET", "/api/v1/audit-events/export")),
    "get_fhir_capability_statement": (PUBLIC, fixed("GET", "/fhir/R4/metadata")),
    "get_fhir_patient": (ALL, fixed("GET", "/fhir/R4/Patient/{client}")),
    "get_fhir_patient_everything": (
        CLINICAL,
        fixed("GET", "/fhir/R4/Patient/{client}/$everything"),
    ),
    "list_fhir_appointments": (ALL, fixed("GET", "/fhir/R4/Appointment?patient={client}")),
    "list_fhir_encounters": (CLINICAL, fixed("GET", "/fhir/R4/Encounter?patient={client}")),
    "list_fhir_observations": (CLINICAL, fixed("GET", "/fhir/R4/Observation?patient={client}")),
    "get_fhir_consent": (CLINICAL, consent_call("GET", "/fhir/R4/Consent/{consent}")),
    "list_fhir_consents": (CLINICAL, fixed("GET", "/fhir/R4/Consent?patient={client}")),
    "list_fhir_patients": (ALL, fixed("GET", "/fhir/R4/Patient")),
    "get_fhir_practitioner": (ALL, fhir_practitioner),
    "get_fhir_appointment": (ALL, fhir_session("Appointment", complete=False)),
    "get_fhir_encounter": (CLINICAL, fhir_session("Encounter", complete=True)),
    "get_fhir_observation": (CLINICAL, fhir_observation),
}
for _kind in ("preparation", "ketamine", "integration"):
    SPECS |= {
        f"create_{_kind}_session": (ALL, session_create(_kind)),
        f"list_{_kind}_sessions": (ALL, fixed("GET", f"/api/v1/{_kind}-sessions")),
        f"get_{_kind}_session": (ALL, session_read(_kind)),
        f"update_{_kind}_session": (ALL, session_update(_kind)),
        f"complete_{_kind}_session": (CLINICAL, session_action(_kind, "complete", {})),
        f"cancel_{_kind}_session": (ALL, session_action(_kind, "cancel", {"reason": "m"})),
        f"mark_no_show_{_kind}_session": (ALL, session_action(_kind, "no-show")),
        f"list_{_kind}_session_corrections": (CLINICAL, session_corrections(_kind)),
    }
