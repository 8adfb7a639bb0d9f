"""The standard format: a clinic's own scheduler, signed with Standard Webhooks."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from tests.inbound.calcom_support import dosed_client
from tests.inbound.payloads import standard_body, standard_headers
from tests.inbound.support import CLIENT_EMAIL, SECRETS, Inbound, inbound_for
from tests.support.factories import T0, Clinic
from tests.webhooks.support import make_endpoint

SECRET = SECRETS["standard"]
START = T0 + timedelta(days=1)


@pytest.fixture
async def standard(app: FastAPI, clinic: Clinic) -> Inbound:
    return await inbound_for(app, clinic, "standard", event_type_map={})


def booking(type_: str, booking_id: str, **fields: Any) -> bytes:
    start = fields.pop("start", START)
    return standard_body(
        type_,
        booking_id=booking_id,
        start=start,
        end=start + timedelta(hours=1),
        attendee_email=fields.pop("attendee_email", CLIENT_EMAIL),
        **fields,
    )


async def test_a_kind_named_in_the_body_needs_no_map(standard: Inbound, clinic: Clinic) -> None:
    await dosed_client(clinic)
    body = booking("booking.created", "own-1", kind="integration", location="telehealth")
    await standard.accept(body, standard_headers(SECRET, body, T0))
    await standard.drain()
    [session] = await standard.sessions()
    assert session["location"] == "telehealth"
    assert session["external_ref"] == {"source": "standard", "id": "own-1"}
    assert session["window"]["status"] == "in_window"


async def test_a_retry_with_the_same_webhook_id_is_a_duplicate(
    standard: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    body = booking("booking.created", "own-2", kind="integration")
    first = await standard.accept(body, standard_headers(SECRET, body, T0, "msg_same"))
    retry = standard_headers(SECRET, body, T0 + timedelta(seconds=30), "msg_same")
    assert (
        retry["webhook-signature"]
        != standard_headers(SECRET, body, T0, "msg_same")["webhook-signature"]
    )
    again = await standard.accept(body, retry)
    assert (again["delivery_id"], again["duplicate"]) == (first["delivery_id"], True)
    await standard.drain()
    assert len(await standard.sessions()) == 1


async def test_reschedule_and_cancel_follow_the_booking_ids(
    standard: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    moved_to = START + timedelta(hours=6)
    for body in (
        booking("booking.created", "own-a", kind="integration"),
        booking(
            "booking.rescheduled",
            "own-b",
            previous_booking_id="own-a",
            start=moved_to,
            kind="integration",
        ),
    ):
        await standard.accept(body, standard_headers(SECRET, body, T0))
        await standard.drain()
    [session] = await standard.sessions()
    assert session["starts_at"] == moved_to.isoformat().replace("+00:00", "Z")
    cancel = standard_body(
        "booking.cancelled",
        booking_id="own-b",
        start=None,
        end=None,
        attendee_email=None,
        reason="Clinic closed",
    )
    await standard.accept(cancel, standard_headers(SECRET, cancel, T0))
    await standard.drain()
    [gone] = await standard.sessions()
    assert (gone["id"], gone["status"]) == (session["id"], "cancelled")


async def test_inbound_sessions_emit_the_usual_outbound_events(
    standard: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    endpoint = await make_endpoint(
        clinic, "http://127.0.0.1:9/hook", "session.scheduled", "session.cancelled"
    )
    created = booking("booking.created", "own-e", kind="integration")
    cancelled = standard_body(
        "booking.cancelled", booking_id="own-e", start=None, end=None, attendee_email=None
    )
    for body in (created, cancelled):
        await standard.accept(body, standard_headers(SECRET, body, T0))
        await standard.drain()
    deliveries = await clinic.ok("GET", f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    # Both were queued at the same (frozen) instant, so their listed order is arbitrary.
    assert sorted(d["event_type"] for d in deliveries["items"]) == [
        "session.cancelled",
        "session.scheduled",
    ]


async def test_a_booking_cannot_replace_itself(standard: Inbound) -> None:
    body = booking("booking.rescheduled", "own-s", previous_booking_id="own-s", kind="integration")
    response = await standard.post(body, standard_headers(SECRET, body, T0))
    assert response.status_code == 422, response.text
    assert await standard.deliveries() == []
