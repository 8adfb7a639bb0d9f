"""Cal.com bookings become sessions: created, rescheduled along uid chains, cancelled."""

import itertools
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from app.inbound.service.deliveries import OVERTAKEN_CANCEL_GRACE
from tests.inbound.calcom_support import cancelled, created, dosed_client, rescheduled, signed
from tests.inbound.support import CLIENT_EMAIL, Inbound, inbound_for
from tests.support.factories import T0, Clinic, FakeClock, iso


@pytest.fixture
async def calcom(app: FastAPI, clinic: Clinic) -> Inbound:
    return await inbound_for(app, clinic, "calcom")


async def test_a_booking_becomes_a_session_with_its_window_flag(
    calcom: Inbound, clinic: Clinic
) -> None:
    client = await dosed_client(clinic)
    accepted = await calcom.accept(*created("bk_1", T0 + timedelta(days=1)))
    assert accepted["status"] == "pending"
    assert accepted["duplicate"] is False
    assert await calcom.sessions() == []  # stored first, applied by the worker
    assert await calcom.drain() >= 1
    [session] = await calcom.sessions()
    assert session["client_id"] == client["id"]
    assert session["clinician_id"] == clinic.admin_id  # organizer unknown: the default
    assert session["external_ref"] == {"source": "calcom", "id": "bk_1"}
    assert session["starts_at"] == (T0 + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert session["window"]["status"] == "in_window"
    [delivery] = await calcom.deliveries()
    assert (delivery["status"], delivery["session_id"]) == ("applied", session["id"])


async def test_the_organizer_email_picks_the_clinician(calcom: Inbound, clinic: Clinic) -> None:
    await dosed_client(clinic)
    clinician_id, _ = await clinic.staff("clinician")
    member = await clinic.ok("GET", f"/api/v1/staff/{clinician_id}")
    await calcom.accept(
        *created("bk_2", T0 + timedelta(days=1), organizer_email=member["email"].upper())
    )
    await calcom.drain()
    [session] = await calcom.sessions()
    assert session["clinician_id"] == clinician_id


async def test_a_duplicate_delivery_is_harmless(calcom: Inbound, clinic: Clinic) -> None:
    await dosed_client(clinic)
    body, headers = created("bk_dup", T0 + timedelta(days=1))
    first = await calcom.accept(body, headers)
    again = await calcom.accept(body, headers)
    assert again == {**first, "duplicate": True}
    await calcom.drain()
    again_later = await calcom.accept(body, headers)
    assert again_later["duplicate"] is True
    assert again_later["status"] == "applied"
    await calcom.drain()
    assert len(await calcom.sessions()) == 1
    assert len(await calcom.deliveries()) == 1


async def test_a_reschedule_moves_the_session_and_its_window(
    calcom: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    await calcom.accept(*created("bk_a", T0 + timedelta(days=1)))
    await calcom.drain()
    [before] = await calcom.sessions()
    await calcom.accept(*rescheduled("bk_b", "bk_a", T0 + timedelta(days=3)))
    await calcom.drain()
    [after] = await calcom.sessions()
    assert after["id"] == before["id"]
    assert after["external_ref"]["id"] == "bk_b"
    assert after["window"]["status"] == "after_window"
    worklist = await clinic.ok("GET", "/api/v1/worklists/integration")
    assert [s["id"] for s in worklist["outside_window"]] == [after["id"]]


CHAIN = ["bk_1", "bk_2", "bk_3"]
STARTS = [T0 + timedelta(days=1), T0 + timedelta(days=1, hours=3), T0 + timedelta(days=2)]


def chain_of_three(suffix: str, email: str) -> list[tuple[bytes, dict[str, str]]]:
    """Created, then rescheduled twice; event times in that order."""
    uids = [f"{uid}_{suffix}" for uid in CHAIN]
    at = [T0 - timedelta(minutes=30 - 10 * n) for n in range(3)]
    return [
        created(uids[0], STARTS[0], attendee_email=email, created_at=at[0]),
        rescheduled(uids[1], uids[0], STARTS[1], attendee_email=email, created_at=at[1]),
        rescheduled(uids[2], uids[1], STARTS[2], attendee_email=email, created_at=at[2]),
    ]


async def _sessions_of(inbound: Inbound, client_id: str) -> list[dict[str, Any]]:
    return [s for s in await inbound.sessions() if s["client_id"] == client_id]


async def test_a_chain_of_three_in_order_is_one_session(calcom: Inbound, clinic: Clinic) -> None:
    client = await dosed_client(clinic)
    for delivery in chain_of_three("in_order", CLIENT_EMAIL):
        await calcom.accept(*delivery)
        await calcom.drain()
    [session] = await _sessions_of(calcom, client["id"])
    assert session["status"] == "scheduled"
    assert session["starts_at"].startswith(STARTS[2].date().isoformat())
    assert session["external_ref"]["id"] == "bk_3_in_order"
    assert session["window"]["status"] == "in_window"


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_a_chain_of_three_delivered_together_in_any_order_is_one_session(
    calcom: Inbound, clinic: Clinic, order: tuple[int, ...]
) -> None:
    """Deliveries that arrive within the settle time are applied in the provider's order."""
    client = await dosed_client(clinic)
    deliveries = chain_of_three("together", CLIENT_EMAIL)
    for index in order:
        await calcom.accept(*deliveries[index])
    await calcom.drain()
    [session] = await _sessions_of(calcom, client["id"])
    assert (session["status"], session["external_ref"]["id"]) == ("scheduled", "bk_3_together")
    assert session["starts_at"].startswith("2026-03-04T12:00")


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_a_chain_of_three_applied_one_by_one_in_any_order_ends_at_its_head(
    calcom: Inbound, clinic: Clinic, order: tuple[int, ...]
) -> None:
    """Applied as each arrives (no settling), every order still ends in one live session at
    the last booking; only when the middle link comes last had two sessions been booked, and
    the surplus one is then cancelled as a duplicate, never left live."""
    client = await dosed_client(clinic)
    deliveries = chain_of_three("one_by_one", CLIENT_EMAIL)
    for index in order:
        await calcom.accept(*deliveries[index])
        await calcom.drain()
    sessions = await _sessions_of(calcom, client["id"])
    live = [s for s in sessions if s["status"] == "scheduled"]
    assert len(live) == 1
    assert live[0]["external_ref"]["id"] == "bk_3_one_by_one"
    assert live[0]["starts_at"].startswith("2026-03-04T12:00")
    duplicates = [s for s in sessions if s["status"] == "cancelled"]
    middle_last = order[-1] == 1 and order[0] != 1
    assert len(duplicates) == (1 if middle_last else 0)
    for duplicate in duplicates:
        assert "Duplicate of session" in duplicate["cancellation_reason"]


async def test_cancelling_after_a_reschedule_cancels_the_one_session(
    calcom: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    await calcom.accept(*created("bk_x", T0 + timedelta(days=1)))
    await calcom.accept(*rescheduled("bk_y", "bk_x", T0 + timedelta(days=2)))
    await calcom.drain()
    await calcom.accept(
        *cancelled("bk_y", T0 + timedelta(days=2), cancellation_reason="Feeling unwell")
    )
    await calcom.drain()
    [session] = await calcom.sessions()
    assert session["status"] == "cancelled"
    assert session["external_ref"]["id"] == "bk_y"
    # A stale cancel of the replaced uid changes nothing more.
    await calcom.accept(*cancelled("bk_x", T0 + timedelta(days=1)))
    await calcom.drain()
    assert [s["status"] for s in await calcom.sessions()] == ["cancelled"]


async def test_a_cancel_that_overtakes_its_booking_ends_as_the_clean_sequence(
    calcom: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    start = T0 + timedelta(days=1)
    await calcom.accept(*cancelled("bk_late", start, created_at=T0))
    await calcom.drain()
    await calcom.accept(*created("bk_late", start, created_at=T0 - timedelta(minutes=5)))
    await calcom.drain()
    [session] = await calcom.sessions()
    assert session["status"] == "cancelled"


@pytest.mark.parametrize(
    "order", [("created", "cancel", "reschedule"), ("cancel", "created", "reschedule")]
)
async def test_a_cancel_that_overtakes_the_reschedule_it_follows_ends_as_the_clean_sequence(
    calcom: Inbound, clinic: Clinic, clock: FakeClock, order: tuple[str, ...]
) -> None:
    """The reschedule's delivery is late: the cancel of its new uid waits for it rather than
    booking and cancelling a stand-in, so one session ends moved and cancelled, as in order."""
    client = await dosed_client(clinic)
    first, moved = T0 + timedelta(days=1), T0 + timedelta(days=2)
    deliveries = {
        "created": created("bk_a", first),
        "reschedule": rescheduled("bk_b", "bk_a", moved),
        "cancel": cancelled("bk_b", moved, cancellation_reason="Changed plans"),
    }
    for name in order:
        await calcom.accept(*deliveries[name])
        await calcom.drain()
        clock.advance(timedelta(minutes=2))
    [session] = await _sessions_of(calcom, client["id"])
    assert session["status"] == "cancelled"
    assert session["external_ref"]["id"] == "bk_b"
    assert session["starts_at"] == iso(moved).replace("+00:00", "Z")
    assert session["cancellation_reason"] == "Cancelled in Test calcom: Changed plans"
    # The waiting cancel, applied once its grace is over, finds the work done.
    clock.advance(OVERTAKEN_CANCEL_GRACE)
    await calcom.drain()
    assert [s["id"] for s in await _sessions_of(calcom, client["id"])] == [session["id"]]
    assert {d["status"] for d in await calcom.deliveries()} == {"applied"}


async def test_a_cancel_of_a_booking_never_seen_waits_then_is_booked_cancelled(
    calcom: Inbound, clinic: Clinic, clock: FakeClock
) -> None:
    await dosed_client(clinic)
    await calcom.accept(*cancelled("bk_alone", T0 + timedelta(days=1)))
    await calcom.drain()
    assert await calcom.sessions() == []
    [waiting] = await calcom.deliveries()
    assert waiting["status"] == "pending"
    clock.advance(OVERTAKEN_CANCEL_GRACE - timedelta(seconds=1))
    await calcom.drain()
    assert await calcom.sessions() == []
    clock.advance(timedelta(seconds=1))
    await calcom.drain()
    [session] = await calcom.sessions()
    assert (session["status"], session["external_ref"]["id"]) == ("cancelled", "bk_alone")


async def test_other_triggers_are_stored_but_not_applied(calcom: Inbound, clinic: Clinic) -> None:
    await dosed_client(clinic)
    body, headers = signed("MEETING_ENDED", "bk_m", T0)
    accepted = await calcom.accept(body, headers)
    assert accepted["status"] == "ignored"
    await calcom.drain()
    assert await calcom.sessions() == []
    [delivery] = await calcom.deliveries()
    assert delivery["trigger"] == "MEETING_ENDED"


async def test_integration_sessions_made_this_way_are_audited_as_the_integration(
    calcom: Inbound, clinic: Clinic
) -> None:
    await dosed_client(clinic)
    await calcom.accept(*created("bk_audit", T0 + timedelta(days=1)))
    await calcom.drain()
    [session] = await calcom.sessions()
    events = await clinic.ok("GET", f"/api/v1/audit-events?resource_id={session['id']}")
    [change] = [e for e in events["items"] if e["action"] == "apply_inbound_delivery"]
    assert change["actor_id"] == calcom.integration["id"]
    assert change["actor_role"] == "integration"
    assert "starts_at" in change["changed_fields"]


async def test_a_hosts_request_to_reschedule_cancels_then_books_again(
    calcom: Inbound, clinic: Clinic
) -> None:
    """Cal.com's "request reschedule" cancels the booking; the client's new time then arrives
    as a reschedule of the cancelled uid and becomes a new session."""
    await dosed_client(clinic)
    await calcom.accept(*created("bk_r1", T0 + timedelta(days=1)))
    await calcom.drain()
    await calcom.accept(
        *cancelled("bk_r1", T0 + timedelta(days=1), cancellation_reason="Host asked to move it")
    )
    await calcom.drain()
    [first] = await calcom.sessions()
    assert first["cancellation_reason"] == "Cancelled in Test calcom: Host asked to move it"
    await calcom.accept(*rescheduled("bk_r2", "bk_r1", T0 + timedelta(days=2)))
    await calcom.drain()
    sessions = {s["id"]: s for s in await calcom.sessions()}
    assert sessions[first["id"]]["status"] == "cancelled"
    [again] = [s for s in sessions.values() if s["id"] != first["id"]]
    assert (again["status"], again["external_ref"]["id"]) == ("scheduled", "bk_r2")
    assert await calcom.unmatched() == []
