"""The prescriber-only acts: refused (403 `prescriber_required`, nothing changed) for an admin or
clinician who is not a prescriber, done by one who is, whichever way they authenticate."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.screenings.schemas import CONTRAINDICATION_CODES
from tests.auth.oidc_idp import Keys, claims, member
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, FakeClock, bearer, iso

DOSE_AT = T0 + timedelta(days=2)


@dataclass
class Act:
    """One prescriber-only request, and how to tell it changed nothing."""

    method: str
    url: str
    body: dict[str, Any]
    unchanged: Callable[[], Awaitable[bool]]


def _screening(decision: str) -> dict[str, Any]:
    return {
        "screened_at": iso(T0),
        "contraindications": dict.fromkeys(CONTRAINDICATION_CODES, False),
        "decision": decision,
    }


async def _act(clinic: Clinic, name: str) -> Act:
    """A fresh world for the act `name`: a prepared client, and a booked dose for a PATCH."""
    client = await clinic.prepared_client()
    screenings = f"/api/v1/clients/{client['id']}/screenings"

    recorded = len((await clinic.ok("GET", screenings))["items"])

    async def no_screening() -> bool:
        return len((await clinic.ok("GET", screenings))["items"]) == recorded

    if name.startswith("screening_"):
        return Act("POST", screenings, _screening(name.removeprefix("screening_")), no_screening)
    if name == "complete_overriding_the_gate":
        return await _gate_override(clinic, client, screenings)
    booking = {
        "client_id": client["id"],
        "route": "iv",
        "starts_at": iso(DOSE_AT),
        "ends_at": iso(DOSE_AT + timedelta(hours=2)),
    }
    order = {"dose_mg": 35.0} if "dose_mg" in name else {"medication": "ketamine"}
    if name.startswith("book_"):

        async def no_dose() -> bool:
            found = await clinic.ok("GET", "/api/v1/ketamine-sessions", params=booking_filter)
            return not found["items"]

        booking_filter = {"client_id": client["id"]}
        return Act("POST", "/api/v1/ketamine-sessions", {**booking, **order}, no_dose)
    dose = await clinic.dose(client["id"], DOSE_AT, dose_mg=20.0)  # no medication yet
    url = f"/api/v1/ketamine-sessions/{dose['id']}"

    async def same_dose() -> bool:
        return bool((await clinic.ok("GET", url))["version"] == dose["version"])

    return Act("PATCH", url, order, same_dose)


async def _gate_override(clinic: Clinic, client: dict[str, Any], screenings: str) -> Act:
    """A dose that took place two days ago although a screening the day before it found the
    client not cleared: completing it needs a prescriber's override."""
    refused = {**_screening("not_cleared"), "screened_at": iso(T0 - timedelta(days=3))}
    await clinic.ok("POST", screenings, 201, json=refused)
    dose = await clinic.dose(client["id"], T0 - timedelta(days=2))
    url = f"/api/v1/ketamine-sessions/{dose['id']}"

    async def still_scheduled() -> bool:
        return bool((await clinic.ok("GET", url))["status"] == "scheduled")

    body = {"override_reason": "Cleared by phone by the medical director; note to follow"}
    return Act("POST", f"{url}/complete", body, still_scheduled)


ACTS = [
    "complete_overriding_the_gate",
    "screening_cleared",
    "screening_not_cleared",
    "book_with_dose_mg",
    "book_with_medication",
    "patch_dose_mg",
    "patch_medication",
]


async def _send(clinic: Clinic, act: Act, headers: dict[str, str]) -> httpx.Response:
    return await clinic.request(act.method, act.url, json=act.body, headers=headers)


@pytest.mark.parametrize("role", ["admin", "clinician"])
@pytest.mark.parametrize("name", ACTS)
async def test_a_non_prescriber_is_refused_and_changes_nothing(
    clinic: Clinic, name: str, role: str
) -> None:
    _, caller = await clinic.staff(role)
    act = await _act(clinic, name)
    assert_problem(await _send(clinic, act, caller), 403, "prescriber_required")
    assert await act.unchanged()


@pytest.mark.parametrize("role", ["admin", "clinician"])
@pytest.mark.parametrize("name", ACTS)
async def test_a_prescriber_may(clinic: Clinic, name: str, role: str) -> None:
    _, caller = await clinic.staff(role, prescriber=True)
    act = await _act(clinic, name)
    response = await _send(clinic, act, caller)
    assert response.status_code in (200, 201), response.text
    assert not await act.unchanged()


async def test_the_scheduler_keeps_its_own_refusal_of_clinical_fields(clinic: Clinic) -> None:
    clinician_id, _ = await clinic.staff("clinician")
    _, scheduler = await clinic.staff("scheduler")
    for name in ACTS:
        act = await _act(clinic, name)
        if act.method == "POST" and "client_id" in act.body:
            act.body["clinician_id"] = clinician_id
        assert_problem(await _send(clinic, act, scheduler), 403, "forbidden")
        assert await act.unchanged()


async def test_the_rest_of_the_record_needs_no_prescriber(clinic: Clinic) -> None:
    _, clinician = await clinic.staff("clinician")
    client = await clinic.prepared_client()
    pending = await clinic.ok(
        "POST",
        f"/api/v1/clients/{client['id']}/screenings",
        201,
        json=_screening("pending"),
        headers=clinician,
    )
    assert pending["decided_by"] is None
    dose = await clinic.dose(client["id"], DOSE_AT, headers=clinician, weight_kg=70)
    record = {"lot_number": "KET-1", "transport_confirmed": True, "notes": "Calm."}
    written = await clinic.ok(
        "PATCH", f"/api/v1/ketamine-sessions/{dose['id']}", json=record, headers=clinician
    )
    assert (written["lot_number"], written["weight_kg"]) == ("KET-1", 70)


async def test_sending_the_order_unchanged_or_null_is_writing_it(clinic: Clinic) -> None:
    _, clinician = await clinic.staff("clinician")
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], DOSE_AT, dose_mg=20.0, medication="ketamine")
    url = f"/api/v1/ketamine-sessions/{dose['id']}"
    for order in ({"dose_mg": 20.0}, {"medication": "ketamine"}, {"dose_mg": None}):
        response = await clinic.patch(url, json=order, headers=clinician)
        assert_problem(response, 403, "prescriber_required")
    assert (await clinic.ok("GET", url))["dose_mg"] == 20.0


async def test_taking_the_flag_away_applies_at_once_to_keys_and_replays(clinic: Clinic) -> None:
    doctor_id, doctor = await clinic.staff("clinician", prescriber=True)
    client = await clinic.client()
    url = f"/api/v1/clients/{client['id']}/screenings"
    retry = {**doctor, "Idempotency-Key": "clear-1"}
    first = await clinic.post(url, json=_screening("cleared"), headers=retry)
    assert first.status_code == 201, first.text
    await clinic.ok("PATCH", f"/api/v1/staff/{doctor_id}", json={"prescriber": False})
    replay = await clinic.post(url, json=_screening("cleared"), headers=retry)
    assert_problem(replay, 403, "prescriber_required")
    fresh = await clinic.post(url, json=_screening("not_cleared"), headers=doctor)
    assert_problem(fresh, 403, "prescriber_required")
    assert len((await clinic.ok("GET", url))["items"]) == 1


async def test_an_oidc_principal_carries_the_flag(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    client = await clinic.client()
    url = f"/api/v1/clients/{client['id']}/screenings"
    plain = bearer(keys.rsa.sign(claims(clock, await member(clinic, "clinician"))))
    doctor = await member(clinic, "clinician", prescriber=True)
    prescriber = bearer(keys.rsa.sign(claims(clock, doctor)))
    refused = await sso.post(url, json=_screening("cleared"), headers=plain)
    assert_problem(refused, 403, "prescriber_required")
    made = await sso.post(url, json=_screening("cleared"), headers=prescriber)
    assert made.status_code == 201, made.text
