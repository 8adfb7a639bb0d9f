"""Bookings that cannot be applied wait in /unmatched-bookings until a human decides."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth.principal import Principal
from app.clinics.models import Clinic as ClinicRow
from app.errors import InvalidTransition
from app.inbound.models import UnmatchedBooking, UnmatchedStatus
from app.inbound.schemas import ResolveBody
from app.inbound.service import unmatched
from app.staff.models import Role
from tests.inbound.calcom_support import cancelled, created, dosed_client, rescheduled
from tests.inbound.support import CLIENT_EMAIL, Inbound, inbound_for
from tests.support.factories import T0, Clinic, bootstrap

DAY = timedelta(days=1)


@pytest.fixture
async def calcom(app: FastAPI, clinic: Clinic) -> Inbound:
    return await inbound_for(app, clinic, "calcom")


async def _resolve(clinic: Clinic, review: dict[str, Any], **body: Any) -> Any:
    return await clinic.post(f"/api/v1/unmatched-bookings/{review['id']}/resolve", json=body)


async def test_an_unknown_attendee_waits_then_is_resolved_and_followed(
    calcom: Inbound, clinic: Clinic
) -> None:
    client = await dosed_client(clinic)
    await calcom.accept(*created("bk_u", T0 + DAY, attendee_email="new.person@example.org"))
    await calcom.drain()
    assert await calcom.sessions() == []
    [review] = await calcom.unmatched()
    assert (review["reason"], review["status"]) == ("unknown_client", "open")
    assert review["attendee_email"] == "new.person@example.org"
    assert review["kind"] is None
    assert review["event_type"] == "41"
    [delivery] = await calcom.deliveries()
    assert delivery["status"] == "unmatched"

    resolved = await _resolve(clinic, review, client_id=client["id"])
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_by"] == clinic.admin_id
    [session] = await calcom.sessions()
    assert (session["client_id"], session["id"]) == (client["id"], resolved.json()["session_id"])

    # The booking's next reschedule follows the human's choice of client.
    await calcom.accept(
        *rescheduled("bk_u2", "bk_u", T0 + 2 * DAY, attendee_email="new.person@example.org")
    )
    await calcom.drain()
    [moved] = await calcom.sessions()
    assert moved["id"] == session["id"]
    assert moved["external_ref"]["id"] == "bk_u2"
    assert await calcom.unmatched() == []

    again = await _resolve(clinic, review, client_id=client["id"])
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


async def test_an_unmapped_event_type_is_resolved_with_a_kind(
    calcom: Inbound, clinic: Clinic
) -> None:
    client = await dosed_client(clinic)
    await calcom.accept(*created("bk_t", T0 + DAY, event_type_id=99, slug="consult-30"))
    await calcom.drain()
    [review] = await calcom.unmatched()
    assert review["reason"] == "unmapped_event_type"
    assert "99" in review["detail"]
    assert "consult-30" in review["detail"]
    resolved = await _resolve(clinic, review, client_id=client["id"], kind="preparation")
    assert resolved.status_code == 200, resolved.text
    [prep] = [s for s in await calcom.sessions("preparation") if s["external_ref"] is not None]
    assert prep["id"] == resolved.json()["session_id"]


async def test_an_overlap_waits_and_a_resolve_still_obeys_the_rule(
    calcom: Inbound, clinic: Clinic
) -> None:
    client = await dosed_client(clinic)
    existing = await clinic.integration(client["id"], T0 + DAY)
    await calcom.accept(*created("bk_o", T0 + DAY + timedelta(minutes=30)))
    await calcom.drain()
    [review] = await calcom.unmatched()
    assert review["reason"] == "schedule_conflict"
    refused = await _resolve(clinic, review, client_id=client["id"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "schedule_conflict"
    assert (await calcom.unmatched())[0]["status"] == "open"  # nothing changed
    await clinic.action("integration", existing["id"], "cancel", reason="Rebooked online")
    resolved = await _resolve(clinic, review, client_id=client["id"])
    assert resolved.status_code == 200, resolved.text


async def test_a_provider_reschedule_into_a_free_slot_resolves_it_by_itself(
    calcom: Inbound, clinic: Clinic
) -> None:
    client = await dosed_client(clinic)
    await clinic.integration(client["id"], T0 + DAY)
    await calcom.accept(*created("bk_f", T0 + DAY))
    await calcom.drain()
    [review] = await calcom.unmatched()
    await calcom.accept(*rescheduled("bk_f2", "bk_f", T0 + DAY + timedelta(hours=4)))
    await calcom.drain()
    assert await calcom.unmatched() == []
    [settled] = await calcom.unmatched(status="resolved")
    assert settled["id"] == review["id"]
    assert settled["resolved_by"] is None  # the provider's change resolved it
    assert settled["booking_id"] == "bk_f2"


async def test_a_provider_cancellation_withdraws_an_open_one(
    calcom: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    await calcom.accept(*created("bk_w", T0 + DAY, attendee_email="stranger@example.org"))
    await calcom.drain()
    await calcom.accept(*cancelled("bk_w", T0 + DAY, attendee_email="stranger@example.org"))
    await calcom.drain()
    [withdrawn] = await calcom.unmatched(status="withdrawn")
    assert withdrawn["reason"] == "unknown_client"
    assert await calcom.sessions() == []


async def test_a_dose_without_preparation_waits_for_it(app: FastAPI, clinic: Clinic) -> None:
    standard = await inbound_for(app, clinic, "calcom")
    client = await clinic.client(email=CLIENT_EMAIL.upper())  # matched case-insensitively
    await standard.accept(*created("bk_k", T0 + DAY, event_type_id=None, slug="ketamine-iv"))
    await standard.drain()
    [review] = await standard.unmatched()
    assert review["reason"] == "preparation_required"
    await clinic.prep(client["id"], T0 + timedelta(hours=2))
    resolved = await _resolve(clinic, review, client_id=client["id"])
    assert resolved.status_code == 200, resolved.text
    [dose] = await standard.sessions("ketamine")
    assert (dose["route"], dose["integration"]["status"]) == ("iv", "unbooked")


async def test_dismissing_keeps_it_on_record(calcom: Inbound, clinic: Clinic) -> None:
    await dosed_client(clinic)
    await calcom.accept(*created("bk_d", T0 + DAY, attendee_email="spam@example.org"))
    await calcom.drain()
    [review] = await calcom.unmatched()
    dismissed = await clinic.ok("POST", f"/api/v1/unmatched-bookings/{review['id']}/dismiss")
    assert (dismissed["status"], dismissed["resolved_by"]) == ("dismissed", clinic.admin_id)
    assert await calcom.unmatched() == []
    assert [r["id"] for r in await calcom.unmatched(status=None)] == [review["id"]]


async def test_resolving_with_someone_elses_client_is_refused(
    app: FastAPI, http: httpx.AsyncClient, calcom: Inbound, clinic: Clinic
) -> None:
    other_clinic = await bootstrap(app, http, clinic.clock)
    await dosed_client(clinic)
    await calcom.accept(*created("bk_x", T0 + DAY, attendee_email="who@example.org"))
    await calcom.drain()
    [review] = await calcom.unmatched()
    foreign = await other_clinic.client()
    refused = await _resolve(clinic, review, client_id=foreign["id"])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["type"] == "invalid_reference"
    hidden = await other_clinic.get(f"/api/v1/unmatched-bookings/{review['id']}")
    assert hidden.status_code == 404


async def test_a_dismissed_booking_stays_unbooked_when_the_provider_moves_it(
    calcom: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    stranger = "x.okafor@example.org"
    await calcom.accept(*created("bk_s", T0 + DAY, attendee_email=stranger))
    await calcom.drain()
    [review] = await calcom.unmatched()
    await clinic.ok("POST", f"/api/v1/unmatched-bookings/{review['id']}/dismiss")
    await calcom.accept(*rescheduled("bk_s2", "bk_s", T0 + 2 * DAY, attendee_email=stranger))
    await calcom.drain()
    assert await calcom.sessions() == []
    assert await calcom.unmatched() == []
    [moved] = [d for d in await calcom.deliveries() if d["trigger"] == "rescheduled"]
    assert "dismissed" in moved["outcome"]


async def test_a_review_settled_by_the_worker_meanwhile_is_not_resolved_again(
    app: FastAPI, calcom: Inbound, clinic: Clinic, backend: str
) -> None:
    """The route read the review before the worker (holding the integration) withdrew it:
    once resolve holds the integration itself it sees the withdrawal and refuses (409).
    PostgreSQL only: SQLite's writers take the database lock first, so there is no race."""
    if backend != "postgresql":
        pytest.skip("a race between concurrent writers needs PostgreSQL")
    client = await dosed_client(clinic)
    await calcom.accept(*created("bk_race", T0 + DAY, attendee_email="new.person@example.org"))
    await calcom.drain()
    [open_review] = await calcom.unmatched()
    review_id = uuid.UUID(open_review["id"])
    async with app.state.sessionmaker() as request_db:
        review = await request_db.get_one(UnmatchedBooking, review_id)
        async with app.state.sessionmaker() as worker_db:
            withdrawn = await worker_db.get_one(UnmatchedBooking, review_id)
            withdrawn.status = UnmatchedStatus.withdrawn.value
            await worker_db.commit()
        clinic_row = await request_db.get_one(ClinicRow, uuid.UUID(clinic.id))
        admin = Principal(uuid.UUID(clinic.admin_id), clinic_row.id, Role.admin, None, clinic_row)
        body = ResolveBody(client_id=uuid.UUID(client["id"]))
        with pytest.raises(InvalidTransition):
            await unmatched.resolve(request_db, admin, review, body, T0)
        await request_db.rollback()
    assert await calcom.sessions() == []


async def test_the_worker_audits_what_it_does_to_unmatched_bookings(
    calcom: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    stranger = "new.person@example.org"
    await calcom.accept(*created("bk_aud", T0 + DAY, attendee_email=stranger))
    await calcom.drain()
    [review] = await calcom.unmatched()
    await calcom.accept(*cancelled("bk_aud", T0 + DAY, attendee_email=stranger))
    await calcom.drain()
    events = await clinic.ok("GET", f"/api/v1/audit-events?resource_id={review['id']}")
    by_worker = [e for e in events["items"] if e["action"] == "apply_inbound_delivery"]
    assert len(by_worker) == 2  # opened, then withdrawn
    assert {e["actor_role"] for e in by_worker} == {"integration"}
    assert "status" in by_worker[0]["changed_fields"]
