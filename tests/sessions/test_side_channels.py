"""A scheduler's answers never depend on clinical data it may not see.

Doses that differ only in their clinical record (medication, vitals and their times, legacy rows
written before today's rules) get the same probes from a scheduler, and every answer (status,
problem body, visible fields) must be the same for all of them.
"""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.sessions.models import ClinicalSession
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, iso

MINUTE = timedelta(minutes=1)
TOMORROW = T0 + timedelta(days=1)
UNDER_WAY = T0 + 30 * MINUTE  # inside the 2 hours before a dose when its record may begin


def vital(at: datetime) -> dict[str, Any]:
    return {"taken_at": iso(at), "label": "pre_dose", "systolic": 128, "diastolic": 82}


def stored(reading: dict[str, Any]) -> dict[str, Any]:
    """A reading as the vitals column holds it (every measurement named)."""
    return {"heart_rate": None, "spo2": None, **reading}


def times(start: datetime, hours: float = 2) -> dict[str, str]:
    return {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=hours))}


def probes(start: datetime) -> list[dict[str, Any]]:
    """What a scheduler might send, including a search over start and end times."""
    moves = [times(start + delta) for delta in (timedelta(days=1), 90 * MINUTE, -3 * MINUTE)]
    ends = [{"ends_at": iso(start + minutes * MINUTE)} for minutes in (1, 45, 119, 121, 721)]
    return [
        {"route": "iv"},
        {"route": "intranasal"},
        {"location": "telehealth"},
        *moves,
        *ends,
        {"starts_at": iso(start + timedelta(hours=3))},  # ends before it starts
        {"route": "im", **times(start + 10 * MINUTE)},
    ]


# Each family: the dose's visible facts, and clinical variants of it (written by a clinician
# with the booking, or straight into the database as a row from before today's rules).
Variant = dict[str, Any]
FAMILIES: dict[str, tuple[datetime, str, dict[str, Variant]]] = {
    "medication": (
        TOMORROW,
        "intranasal",
        {
            "none": {},
            "ketamine": {"medication": "ketamine", "dose_mg": 35},
            "esketamine": {"medication": "esketamine", "dose_mg": 56},
            "rems_answers": {
                "medication": "esketamine",
                "concomitant_medications": {"benzodiazepines": True, "maois": False},
            },
        },
    ),
    "vitals": (
        UNDER_WAY,
        "iv",
        {
            "none": {},
            "just_taken": {"vitals": [vital(T0 - MINUTE)]},
            "taken_early": {"vitals": [vital(UNDER_WAY - 119 * MINUTE)]},
            "dosed": {"dosed_at": iso(T0), "medication": "ketamine"},
        },
    ),
    "legacy": (
        TOMORROW,
        "iv",
        {
            "none": {},
            "esketamine_iv": {"sql": {"medication": "esketamine"}},
            "stranded_vitals": {"sql": {"vitals": [stored(vital(T0 - timedelta(days=3)))]}},
            "stranded_ready_to_leave": {"sql": {"ready_to_leave_at": T0 - timedelta(days=3)}},
        },
    ),
}


async def _dose(clinic: Clinic, app: FastAPI, start: datetime, route: str, v: Variant) -> str:
    client = await clinic.prepared_client()
    record = {k: value for k, value in v.items() if k != "sql"}
    dose = await clinic.dose(client["id"], start, route=route, **record)
    if "sql" in v:
        async with app.state.sessionmaker() as db, db.begin():
            stmt = update(ClinicalSession).where(ClinicalSession.id == uuid.UUID(dose["id"]))
            await db.execute(stmt.values(**v["sql"]))
    return str(dose["id"])


def _answer(response: Any, ids: dict[str, str]) -> Any:
    """The response, with the ids that differ between variants replaced by their role, and
    without the write times (the wall clock's, which differ by microseconds between writes)."""
    body = response.json()
    for stamp in ("created_at", "updated_at"):
        body.pop(stamp, None)
    text = json.dumps(body, sort_keys=True)
    for value, role in ids.items():
        text = text.replace(value, role)
    return response.status_code, text


Probe = Callable[[str], Awaitable[Any]]


@pytest.mark.parametrize("family", FAMILIES)
async def test_a_scheduler_gets_the_same_answers_whatever_the_clinical_record(
    clinic: Clinic, app: FastAPI, family: str
) -> None:
    start, route, variants = FAMILIES[family]
    _, scheduler = await clinic.staff("scheduler")
    doses = {name: await _dose(clinic, app, start, route, v) for name, v in variants.items()}
    answers: dict[str, list[Any]] = {name: [] for name in doses}
    for body in probes(start):
        for name, dose_id in doses.items():
            got = await clinic.get(f"/api/v1/ketamine-sessions/{dose_id}", headers=scheduler)
            ids = {dose_id: "DOSE", got.json()["client_id"]: "CLIENT"}
            url = f"/api/v1/ketamine-sessions/{dose_id}"
            response = await clinic.patch(url, json=body, headers=scheduler)
            answers[name].append((body, *_answer(response, ids)))
    first, *others = answers.values()
    for name, seen in zip(list(answers)[1:], others, strict=True):
        assert seen == first, name
    assert {status for _, status, _ in first} >= {200, 403}  # the probes reach both sides


async def test_a_scheduler_cannot_move_a_dose_once_its_record_may_have_begun(
    clinic: Clinic,
) -> None:
    """From 2 hours before the start, pre-dose vitals may exist: a scheduler's move would leave
    them outside the session, so only a clinical role moves the dose then."""
    _, scheduler = await clinic.staff("scheduler")
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], UNDER_WAY, route="iv", vitals=[vital(T0 - MINUTE)])
    url = f"/api/v1/ketamine-sessions/{dose['id']}"
    later = times(TOMORROW)
    assert_problem(await clinic.patch(url, json=later, headers=scheduler), 403, "dose_under_way")
    assert (await clinic.ok("GET", url))["vitals"] == dose["vitals"]


SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("before_start", "moves"),
    [
        (timedelta(hours=2) + SECOND, True),
        (timedelta(hours=2), False),
        (timedelta(hours=2) - SECOND, False),
    ],
    ids=["2h_and_1s_before", "exactly_2h_before", "inside_2h"],
)
async def test_a_scheduler_moves_a_dose_until_2_hours_before_it_starts(
    clinic: Clinic, before_start: timedelta, moves: bool
) -> None:
    """The boundary of the rule above: from exactly 2 hours before the start, refused."""
    _, scheduler = await clinic.staff("scheduler")
    client = await clinic.prepared_client()
    start = TOMORROW + timedelta(hours=5)
    dose = await clinic.dose(client["id"], start, route="iv")
    url = f"/api/v1/ketamine-sessions/{dose['id']}"
    clinic.clock.set(start - before_start)
    later = times(start + timedelta(days=1))
    response = await clinic.patch(url, json=later, headers=scheduler)
    if moves:
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, 403, "dose_under_way")
    moved_to = later if moves else dose
    stored = (await clinic.ok("GET", url))["starts_at"]
    assert stored == moved_to["starts_at"].replace("+00:00", "Z")


async def test_a_scheduler_cannot_change_a_doses_route(clinic: Clinic) -> None:
    _, scheduler = await clinic.staff("scheduler")
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], TOMORROW, route="iv")
    url = f"/api/v1/ketamine-sessions/{dose['id']}"
    refused = await clinic.patch(url, json={"route": "oral"}, headers=scheduler)
    assert_problem(refused, 403, "route_change_needs_clinical_role")
    assert (await clinic.ok("GET", url))["route"] == "iv"
    same = await clinic.ok("PATCH", url, json={"route": "iv"}, headers=scheduler)
    assert same["route"] == "iv"
