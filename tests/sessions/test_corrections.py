"""Closed sessions: the scheduler changes nothing; clinical roles correct a completed session's
scheduling facts with a reason (kept with the correction, named by the audit row), cannot change
those of a cancelled or no-show session, and write the documentation of any."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.errors import Conflict
from app.sessions import shared_routes
from app.sessions.models import SessionCorrection
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, iso

START = T0 - timedelta(hours=5)
REASON = "Booked under the wrong route"


async def closed_dose(clinic: Clinic, status: str) -> dict[str, Any]:
    """A dose from five hours ago (route iv, in person), completed, cancelled or a no-show."""
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], START, route="iv")
    actions: dict[str, tuple[str, dict[str, Any]]] = {
        "completed": ("complete", {}),
        "cancelled": ("cancel", {"reason": "Client unwell"}),
        "no_show": ("no-show", {}),
    }
    action, body = actions[status]
    return await clinic.action("ketamine", dose["id"], action, **body)


def url(session: dict[str, Any]) -> str:
    return f"/api/v1/{session['kind']}-sessions/{session['id']}"


def times_of(start: Any) -> dict[str, str]:
    return {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=2))}


CLOSED = ["completed", "cancelled", "no_show"]
SCHEDULER_WRITES: dict[str, dict[str, Any]] = {
    "route": {"route": "oral"},
    "location": {"location": "telehealth"},
    "times": {"starts_at": iso(START - timedelta(hours=1)), "ends_at": iso(START)},
    "external_ref": {"external_ref": {"source": "calcom", "id": "bk_1"}},
    "with_reason": {"location": "telehealth", "correction_reason": REASON},
    "nothing": {},
}


@pytest.mark.parametrize("status", CLOSED)
@pytest.mark.parametrize("write", SCHEDULER_WRITES)
async def test_the_scheduler_changes_nothing_on_a_closed_session(
    clinic: Clinic, status: str, write: str
) -> None:
    dose = await closed_dose(clinic, status)
    _, scheduler = await clinic.staff("scheduler")
    response = await clinic.patch(url(dose), json=SCHEDULER_WRITES[write], headers=scheduler)
    assert_problem(response, 403, "session_closed")
    assert await clinic.ok("GET", url(dose)) == dose


async def test_the_scheduler_cannot_reassign_a_completed_session(clinic: Clinic) -> None:
    dose = await closed_dose(clinic, "completed")
    other_id, _ = await clinic.staff("clinician")
    _, scheduler = await clinic.staff("scheduler")
    response = await clinic.patch(url(dose), json={"clinician_id": other_id}, headers=scheduler)
    assert_problem(response, 403, "session_closed")
    assert (await clinic.ok("GET", url(dose)))["clinician_id"] == dose["clinician_id"]


@pytest.mark.parametrize("role", ["admin", "clinician"])
async def test_correcting_a_completed_session_needs_a_reason(clinic: Clinic, role: str) -> None:
    dose = await closed_dose(clinic, "completed")
    _, clinician = await clinic.staff("clinician")
    headers = clinician if role == "clinician" else clinic.headers
    refused = await clinic.patch(url(dose), json={"route": "oral"}, headers=headers)
    body = assert_problem(refused, 422, "correction_reason_required")
    assert body["errors"] == [
        {"loc": ["body", "correction_reason"], "msg": body["detail"], "type": "missing"}
    ]
    assert await clinic.ok("GET", url(dose)) == dose
    corrected = await clinic.ok(
        "PATCH",
        url(dose),
        json={"route": "oral", "location": "telehealth", "correction_reason": REASON},
        headers=headers,
    )
    assert (corrected["route"], corrected["location"]) == ("oral", "telehealth")
    page = await clinic.ok("GET", f"{url(dose)}/corrections")
    (correction,) = page["items"]
    assert correction["previous"] == {"location": "in_person", "route": "iv"}
    assert correction["reason"] == REASON


NOT_HELD = ["cancelled", "no_show"]
FACTS: dict[str, dict[str, Any]] = {
    "route": {"route": "oral", "correction_reason": REASON},
    "route_without_reason": {"route": "oral"},
    "location": {"location": "telehealth", "correction_reason": REASON},
    "clinician": {"clinician_id": "OTHER", "correction_reason": REASON},
    "times": {**times_of(START - timedelta(hours=1)), "correction_reason": REASON},
}


@pytest.mark.parametrize("status", NOT_HELD)
@pytest.mark.parametrize("fact", FACTS)
async def test_a_cancelled_or_missed_sessions_facts_cannot_be_corrected(
    clinic: Clinic, status: str, fact: str
) -> None:
    """Only what took place is corrected: a cancelled or no-show session keeps its facts."""
    dose = await closed_dose(clinic, status)
    other_id, clinician = await clinic.staff("clinician")
    write = {k: other_id if v == "OTHER" else v for k, v in FACTS[fact].items()}
    response = await clinic.patch(url(dose), json=write, headers=clinician)
    assert_problem(response, 409, "invalid_transition")
    assert await clinic.ok("GET", url(dose)) == dose
    assert (await clinic.ok("GET", f"{url(dose)}/corrections"))["items"] == []


async def test_a_cancelled_session_cannot_be_moved_onto_a_taken_slot(clinic: Clinic) -> None:
    dose = await closed_dose(clinic, "cancelled")
    taken = await clinic.prep(dose["client_id"], T0 + timedelta(days=1))
    onto = {
        "starts_at": taken["starts_at"],
        "ends_at": taken["ends_at"],
        "correction_reason": REASON,
    }
    assert_problem(await clinic.patch(url(dose), json=onto), 409, "invalid_transition")
    assert await clinic.ok("GET", url(dose)) == dose


async def test_a_cancelled_integration_session_keeps_its_link(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], START - timedelta(days=1), route="iv")
    session = await clinic.integration(client["id"], START, ketamine_session_id=dose["id"])
    cancelled = await clinic.action("integration", session["id"], "cancel", reason="Unwell")
    unlink = {"ketamine_session_id": None, "correction_reason": REASON}
    assert_problem(await clinic.patch(url(cancelled), json=unlink), 409, "invalid_transition")
    assert (await clinic.ok("GET", url(cancelled)))["ketamine_session_id"] == dose["id"]


@pytest.mark.parametrize("status", NOT_HELD)
async def test_a_cancelled_or_missed_session_stays_documentable(
    clinic: Clinic, status: str
) -> None:
    dose = await closed_dose(clinic, status)
    _, clinician = await clinic.staff("clinician")
    same_facts = {"route": "iv", "location": "in_person", **times_of(START)}
    notes = {"notes": "Called twice.\nNo answer.", **same_facts}
    written = await clinic.ok("PATCH", url(dose), json=notes, headers=clinician)
    assert (written["notes"], written["status"]) == (notes["notes"], dose["status"])
    assert (await clinic.ok("GET", f"{url(dose)}/corrections"))["items"] == []


async def test_the_audit_row_names_the_correction_and_holds_no_reason(clinic: Clinic) -> None:
    dose = await closed_dose(clinic, "completed")
    other_id, _ = await clinic.staff("clinician")
    body = {"clinician_id": other_id, "correction_reason": REASON}
    await clinic.ok("PATCH", url(dose), json=body)
    (correction,) = (await clinic.ok("GET", f"{url(dose)}/corrections"))["items"]
    assert correction["previous"] == {"clinician_id": dose["clinician_id"]}
    rows = await clinic.ok(
        "GET", "/api/v1/audit-events", params={"action": "update_ketamine_session"}
    )
    by_type = {row["resource_type"]: row for row in rows["items"]}
    assert by_type["session_correction"]["resource_id"] == correction["id"]
    assert by_type["session_correction"]["changed_fields"] == ["clinician_id"]
    assert by_type["session"]["request_id"] == by_type["session_correction"]["request_id"]
    export = await clinic.get("/api/v1/audit-events/export")
    assert REASON not in export.text


async def test_a_refused_correction_leaves_neither_correction_nor_audit_row(
    clinic: Clinic, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The correction row and the audit row naming it commit with the session's change, in one
    transaction: a request refused after the correction was written keeps none of them."""
    dose = await closed_dose(clinic, "completed")

    async def refuse(*_: Any) -> Any:
        raise Conflict("refused after the correction was written")

    with monkeypatch.context() as patched:
        patched.setattr(shared_routes, "respond", refuse)
        body = {"route": "oral", "correction_reason": REASON}
        assert_problem(await clinic.patch(url(dose), json=body), 409, "conflict")
    assert await clinic.ok("GET", url(dose)) == dose
    async with app.state.sessionmaker() as db:
        mine = SessionCorrection.clinic_id == uuid.UUID(clinic.id)
        assert await db.scalar(select(func.count()).where(mine)) == 0
    rows = await clinic.ok(
        "GET", "/api/v1/audit-events", params={"action": "update_ketamine_session"}
    )
    assert [(r["resource_type"], r["outcome"]) for r in rows["items"]] == [("session", "refused")]


async def test_a_repeated_or_empty_correction_records_nothing(clinic: Clinic) -> None:
    dose = await closed_dose(clinic, "completed")
    same = {"route": "iv", "location": "in_person", "starts_at": dose["starts_at"]}
    assert await clinic.ok("PATCH", url(dose), json=same)  # no change: no reason needed
    fixed = {"route": "im", "correction_reason": REASON}
    await clinic.ok("PATCH", url(dose), json=fixed)
    await clinic.ok("PATCH", url(dose), json=fixed)  # a retry changes nothing more
    page = await clinic.ok("GET", f"{url(dose)}/corrections")
    assert [c["previous"] for c in page["items"]] == [{"route": "iv"}]


async def test_documentation_stays_writable_without_a_reason(clinic: Clinic) -> None:
    dose = await closed_dose(clinic, "completed")
    _, clinician = await clinic.staff("clinician", prescriber=True)  # the order is in the record
    record = {
        "notes": "Tolerated well.\nNo nausea.",
        "dose_mg": 35,
        "medication": "ketamine",
        "lot_number": "LOT-1",
        "dosed_at": iso(START + timedelta(minutes=10)),
        "discharged_at": iso(START + timedelta(hours=2)),
        "correction_reason": "ignored: nothing here is a correction",
    }
    written = await clinic.ok("PATCH", url(dose), json=record, headers=clinician)
    assert (written["notes"], written["lot_number"]) == (record["notes"], "LOT-1")
    assert (await clinic.ok("GET", f"{url(dose)}/corrections"))["items"] == []


async def test_a_completed_dose_moves_only_with_a_reason_and_stays_in_the_past(
    clinic: Clinic,
) -> None:
    dose = await closed_dose(clinic, "completed")
    earlier = {"starts_at": iso(START - timedelta(hours=1)), "ends_at": iso(START)}
    assert_problem(await clinic.patch(url(dose), json=earlier), 422, "correction_reason_required")
    future = {
        "starts_at": iso(T0 + timedelta(hours=1)),
        "ends_at": iso(T0 + timedelta(hours=2)),
        "correction_reason": REASON,
    }
    body: Any = assert_problem(await clinic.patch(url(dose), json=future), 422, "validation_error")
    assert body["errors"][0]["type"] == "in_the_future"
    moved = await clinic.ok("PATCH", url(dose), json={**earlier, "correction_reason": REASON})
    assert moved["starts_at"] == iso(START - timedelta(hours=1)).replace("+00:00", "Z")
    (correction,) = (await clinic.ok("GET", f"{url(dose)}/corrections"))["items"]
    assert set(correction["previous"]) == {"starts_at", "ends_at"}


async def test_a_corrected_start_keeps_the_recorded_end_inside_the_session(
    clinic: Clinic,
) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], START, route="iv")
    ended = START + timedelta(hours=1)
    done = await clinic.action("ketamine", dose["id"], "complete", ended_at=iso(ended))
    after_end = {
        "starts_at": iso(ended + timedelta(minutes=5)),
        "ends_at": iso(ended + timedelta(hours=1)),
        "correction_reason": REASON,
    }
    body: Any = assert_problem(
        await clinic.patch(url(done), json=after_end), 422, "validation_error"
    )
    assert body["errors"][0]["type"] == "invalid_times"
    assert await clinic.ok("GET", url(done)) == done


async def test_the_scheduler_still_reschedules_a_scheduled_session(clinic: Clinic) -> None:
    client = await clinic.client()
    prep = await clinic.prep(client["id"], T0 + timedelta(days=2))
    _, scheduler = await clinic.staff("scheduler")
    later = {
        "starts_at": iso(T0 + timedelta(days=3)),
        "ends_at": iso(T0 + timedelta(days=3, hours=1)),
        "location": "telehealth",
    }
    moved = await clinic.ok("PATCH", url(prep), json=later, headers=scheduler)
    assert moved["location"] == "telehealth"
    assert (await clinic.ok("GET", f"{url(prep)}/corrections"))["items"] == []


async def test_a_corrected_dose_still_follows_its_completed_preparation(clinic: Clinic) -> None:
    dose = await closed_dose(clinic, "completed")  # preparation completed ten days ago
    before = T0 - timedelta(days=11)
    body = {**times_of(before), "correction_reason": REASON}
    assert_problem(await clinic.patch(url(dose), json=body), 409, "preparation_required")
    assert await clinic.ok("GET", url(dose)) == dose
