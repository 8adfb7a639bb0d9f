"""Calendly bookings: a reschedule is a cancel plus a create, in either order."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from tests.inbound.calcom_support import dosed_client
from tests.inbound.payloads import calendly_body, calendly_headers
from tests.inbound.support import CLIENT_EMAIL, SECRETS, Inbound, inbound_for
from tests.support.factories import T0, Clinic

HOUR = timedelta(hours=1)
EVENT = "https://api.calendly.com/scheduled_events"


@pytest.fixture
async def calendly(app: FastAPI, clinic: Clinic) -> Inbound:
    return await inbound_for(app, clinic, "calendly")


def invitee(event: str, name: str) -> str:
    return f"{EVENT}/{event}/invitees/{name}"


def signed(
    event: str, uri: str, start: datetime, at: datetime, **extra: Any
) -> tuple[bytes, dict[str, str]]:
    body = calendly_body(
        event,
        invitee_uri=uri,
        start=start,
        end=start + HOUR,
        email=extra.pop("email", CLIENT_EMAIL),
        created_at=at,
        **extra,
    )
    return body, calendly_headers(SECRETS["calendly"], body, T0)


OLD, NEW = invitee("EV1", "INV-OLD"), invitee("EV2", "INV-NEW")
FIRST, MOVED = T0 + timedelta(days=1), T0 + timedelta(days=1, hours=5)


def reschedule_pair() -> dict[str, tuple[bytes, dict[str, str]]]:
    at = T0 - timedelta(minutes=1)
    return {
        "cancel": signed("invitee.canceled", OLD, FIRST, at, rescheduled=True, new_invitee=NEW),
        "create": signed("invitee.created", NEW, MOVED, at, old_invitee=OLD),
    }


@pytest.mark.parametrize("order", [("cancel", "create"), ("create", "cancel")])
@pytest.mark.parametrize("together", [True, False], ids=["together", "one_by_one"])
async def test_a_reschedule_moves_the_one_session_whichever_half_comes_first(
    calendly: Inbound, clinic: Clinic, order: tuple[str, str], together: bool
) -> None:
    await dosed_client(clinic)
    await calendly.accept(*signed("invitee.created", OLD, FIRST, T0 - timedelta(hours=2)))
    await calendly.drain()
    [booked] = await calendly.sessions()
    pair = reschedule_pair()
    for half in order:
        await calendly.accept(*pair[half])
        if not together:
            await calendly.drain()
    await calendly.drain()
    [moved] = await calendly.sessions()
    assert moved["id"] == booked["id"]
    assert moved["status"] == "scheduled"
    assert moved["starts_at"] == MOVED.isoformat().replace("+00:00", "Z")
    assert moved["external_ref"] == {"source": "calendly", "id": NEW}
    assert moved["window"]["status"] == "in_window"
    statuses = {d["status"] for d in await calendly.deliveries()}
    assert statuses == {"applied"}


async def test_the_whole_reschedule_arriving_before_the_booking_is_one_session(
    calendly: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    pair = reschedule_pair()
    await calendly.accept(*pair["create"])
    await calendly.drain()
    await calendly.accept(*pair["cancel"])
    await calendly.drain()
    await calendly.accept(*signed("invitee.created", OLD, FIRST, T0 - timedelta(hours=2)))
    await calendly.drain()
    [session] = await calendly.sessions()
    assert (session["status"], session["external_ref"]["id"]) == ("scheduled", NEW)


async def test_a_cancellation_cancels_the_session(calendly: Inbound, clinic: Clinic) -> None:
    await dosed_client(clinic)
    await calendly.accept(*signed("invitee.created", OLD, FIRST, T0 - timedelta(hours=1)))
    await calendly.drain()
    await calendly.accept(
        *signed("invitee.canceled", OLD, FIRST, T0, reason="Travelling that week")
    )
    await calendly.drain()
    [session] = await calendly.sessions()
    assert session["status"] == "cancelled"
    assert "Cancelled in" in session["cancellation_reason"]


async def test_a_stale_or_future_signature_timestamp_is_refused(
    calendly: Inbound, clinic: Clinic
) -> None:
    body = calendly_body(
        "invitee.created", invitee_uri=OLD, start=FIRST, end=FIRST + HOUR, email=CLIENT_EMAIL
    )
    for sent in (T0 - timedelta(minutes=6), T0 + timedelta(minutes=6)):
        response = await calendly.post(body, calendly_headers(SECRETS["calendly"], body, sent))
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "invalid_signature"
    fresh = calendly_headers(SECRETS["calendly"], body, T0 - timedelta(minutes=4))
    assert (await calendly.post(body, fresh)).status_code == 202
    assert len(await calendly.deliveries()) == 1
