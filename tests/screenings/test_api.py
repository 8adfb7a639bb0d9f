"""/api/v1/clients/{id}/screenings: what a screening must hold, who may decide, and what is kept."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from app.screenings.models import Screening
from app.screenings.schemas import CONTRAINDICATION_CODES
from tests.screenings.support import body, post, record, url
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, bootstrap, iso

Z = "Z"


def utc(value: Any) -> str:
    return iso(value).replace("+00:00", Z)


async def test_a_screening_is_recorded_with_its_validity_and_who_screened_and_decided(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    clinician_id, clinician = await clinic.staff("clinician")
    screened_at = T0 - timedelta(days=2)
    sent = body(
        "pending",
        screened_at,
        blood_pressure={"systolic": 128, "diastolic": 82},
        notes="Reviewed history with the client.\nNo concerns.",
    )
    response = await clinic.post(url(client["id"]), json=sent, headers=clinician)
    assert response.status_code == 201, response.text
    made = response.json()
    assert response.headers["Location"] == f"{url(client['id'])}/{made['id']}"
    assert response.headers["ETag"] == '"1"'
    assert made["client_id"] == client["id"]
    assert made["screened_at"] == utc(screened_at)
    assert made["valid_until"] == utc(screened_at + timedelta(days=365))
    assert (made["screened_by"], made["decided_by"]) == (clinician_id, None)
    assert made["contraindications"] == sent["contraindications"]
    assert made["blood_pressure"] == {"systolic": 128, "diastolic": 82}
    assert (made["decision"], made["override_reason"], made["version"]) == ("pending", None, 1)
    assert made["notes"] == sent["notes"]
    assert made["created_at"] == utc(T0)
    decided = await record(clinic, client["id"], screened_at=screened_at)
    assert (decided["screened_by"], decided["decided_by"]) == (clinic.admin_id, clinic.admin_id)
    assert decided["blood_pressure"] is None
    got = await clinic.get(f"{url(client['id'])}/{made['id']}")
    assert (got.json(), got.headers["ETag"]) == (made, '"1"')


async def test_validity_follows_the_policy_in_force_when_recorded(clinic: Clinic) -> None:
    client = await clinic.client()
    before = await record(clinic, client["id"])
    policy = await clinic.ok(
        "PATCH", "/api/v1/clinic", json={"clinical_policy": {"screening_valid_days": 90}}
    )
    assert policy["clinical_policy"]["screening_valid_days"] == 90
    after = await record(clinic, client["id"])
    assert after["valid_until"] == utc(T0 + timedelta(days=90))
    kept = await clinic.ok("GET", f"{url(client['id'])}/{before['id']}")
    assert kept["valid_until"] == utc(T0 + timedelta(days=365))


@pytest.mark.parametrize("code", CONTRAINDICATION_CODES)
async def test_every_contraindication_code_must_be_answered(clinic: Clinic, code: str) -> None:
    client = await clinic.client()
    sent = body()
    del sent["contraindications"][code]
    problem = assert_problem(
        await clinic.post(url(client["id"]), json=sent), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"] == ["body", "contraindications", code]
    assert problem["errors"][0]["type"] == "missing"
    assert code in problem["detail"]


async def test_unknown_codes_and_answers_that_are_not_booleans_are_refused(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    unknown = body()
    unknown["contraindications"]["seizure_disorder"] = False
    problem = assert_problem(
        await clinic.post(url(client["id"]), json=unknown), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"] == ["body", "contraindications", "seizure_disorder"]
    for answer in ("no", 0, None, "false"):
        sent = body()
        sent["contraindications"]["mania_history"] = answer
        response = await clinic.post(url(client["id"]), json=sent)
        assert_problem(response, 422, "validation_error")
    assert (await clinic.ok("GET", url(client["id"])))["items"] == []


@pytest.mark.parametrize(
    "pressure",
    [
        {"systolic": 120, "diastolic": 120},
        {"systolic": 120, "diastolic": 130},
        {"systolic": 49, "diastolic": 30},
        {"systolic": 301, "diastolic": 90},
        {"systolic": 120, "diastolic": 19},
        {"systolic": 120},
        {"diastolic": 80},
        {"systolic": 120.5, "diastolic": 80},
    ],
)
async def test_blood_pressure_is_checked_like_vitals(
    clinic: Clinic, pressure: dict[str, Any]
) -> None:
    client = await clinic.client()
    response = await post(clinic, client["id"], blood_pressure=pressure)
    assert_problem(response, 422, "validation_error")


async def test_blood_pressure_limits_themselves_are_accepted(clinic: Clinic) -> None:
    client = await clinic.client()
    for pressure in ({"systolic": 300, "diastolic": 200 - 1}, {"systolic": 50, "diastolic": 20}):
        made = await record(clinic, client["id"], blood_pressure=pressure)
        assert made["blood_pressure"] == pressure


async def test_screened_at_is_not_in_the_future_and_carries_an_offset(clinic: Clinic) -> None:
    client = await clinic.client()
    assert (await record(clinic, client["id"], screened_at=T0))["screened_at"] == utc(T0)
    late = assert_problem(
        await post(clinic, client["id"], screened_at=T0 + timedelta(seconds=1)),
        422,
        "validation_error",
    )
    assert late["errors"][0]["type"] == "in_the_future"
    naive = body()
    naive["screened_at"] = "2026-03-01T10:00:00"
    assert_problem(await clinic.post(url(client["id"]), json=naive), 422, "validation_error")
    assert len((await clinic.ok("GET", url(client["id"])))["items"]) == 1


@pytest.mark.parametrize("decision", ["maybe", "CLEARED", None])
async def test_the_decision_is_one_of_three(clinic: Clinic, decision: Any) -> None:
    client = await clinic.client()
    assert_problem(await post(clinic, client["id"], decision=decision), 422, "validation_error")


async def test_clearing_despite_a_contraindication_needs_an_override_reason(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    present = body()
    present["contraindications"]["uncontrolled_hypertension"] = True
    missing = await clinic.post(url(client["id"]), json=present)
    problem = assert_problem(missing, 422, "override_reason_required")
    assert problem["errors"][0]["loc"] == ["body", "override_reason"]
    assert "uncontrolled_hypertension" in problem["detail"]
    blank = await clinic.post(url(client["id"]), json={**present, "override_reason": "  "})
    assert_problem(blank, 422, "validation_error")
    assert (await clinic.ok("GET", url(client["id"])))["items"] == []
    reason = "BP controlled on current medication per cardiology letter"
    made = await clinic.ok(
        "POST", url(client["id"]), 201, json={**present, "override_reason": reason}
    )
    assert (made["decision"], made["override_reason"]) == ("cleared", reason)
    for decision in ("pending", "not_cleared"):
        without_reason = await clinic.ok(
            "POST", url(client["id"]), 201, json={**present, "decision": decision}
        )
        assert without_reason["override_reason"] is None


@pytest.mark.parametrize(
    ("decision", "present"), [("cleared", False), ("pending", True), ("not_cleared", True)]
)
async def test_an_override_reason_that_overrides_nothing_is_refused(
    clinic: Clinic, decision: str, present: bool
) -> None:
    client = await clinic.client()
    sent = body(decision, override_reason="Seen by cardiology")
    sent["contraindications"]["psychosis_history"] = present
    problem = assert_problem(
        await clinic.post(url(client["id"]), json=sent), 422, "validation_error"
    )
    assert problem["errors"][0]["type"] == "override_reason_not_applicable"


async def test_the_list_is_newest_first_and_pages(clinic: Clinic) -> None:
    client = await clinic.client()
    other = await clinic.client(last_name="Other")
    await record(clinic, other["id"])
    days = [5, 1, 3, 2, 4]
    made = {
        day: await record(clinic, client["id"], screened_at=T0 - timedelta(days=day))
        for day in days
    }
    # The same examination decided again later: newer by when it was recorded.
    clinic.clock.advance(timedelta(minutes=5))
    redecided = await record(
        clinic, client["id"], decision="not_cleared", screened_at=T0 - timedelta(days=1)
    )
    expected = [redecided["id"], *(made[day]["id"] for day in sorted(days))]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await clinic.ok("GET", url(client["id"]), params=params)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_another_clinics_client_or_screening_is_not_found(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    other_clinic = await bootstrap(app, http, clinic.clock)
    mine = await clinic.client()
    theirs = await other_clinic.client()
    their_screening = await record(other_clinic, theirs["id"])
    assert_problem(await post(clinic, theirs["id"]), 404, "not_found")
    assert_problem(await clinic.get(url(theirs["id"])), 404, "not_found")
    assert_problem(
        await clinic.get(f"{url(theirs['id'])}/{their_screening['id']}"), 404, "not_found"
    )
    # Another client's screening in the same clinic is not this client's either.
    own_other = await clinic.client(last_name="Else")
    screening = await record(clinic, own_other["id"])
    assert_problem(await clinic.get(f"{url(mine['id'])}/{screening['id']}"), 404, "not_found")
    assert (await other_clinic.ok("GET", url(theirs["id"])))["items"] == [their_screening]


async def test_the_scheduler_may_not_read_or_write_screenings(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    _, scheduler = await clinic.staff("scheduler")
    for response in (
        await post(clinic, client["id"], headers=scheduler, decision="pending"),
        await clinic.get(url(client["id"]), headers=scheduler),
        await clinic.get(f"{url(client['id'])}/{made['id']}", headers=scheduler),
    ):
        assert_problem(response, 403, "forbidden")
    assert len((await clinic.ok("GET", url(client["id"])))["items"]) == 1


async def test_reads_and_writes_are_audited_without_phi(clinic: Clinic) -> None:
    client = await clinic.client()
    secret = "Xanthippe mentioned a brain aneurysm"
    made = await record(clinic, client["id"], notes=secret)
    await clinic.ok("GET", url(client["id"]))
    await clinic.ok("GET", f"{url(client['id'])}/{made['id']}")
    present = body()
    present["contraindications"]["aneurysmal_vascular_disease"] = True
    assert (await clinic.post(url(client["id"]), json=present)).status_code == 422
    page = await clinic.ok(
        "GET", "/api/v1/audit-events", params={"resource_type": "screening", "limit": 200}
    )
    rows = {(row["action"], row["outcome"], row["resource_id"]) for row in page["items"]}
    assert rows == {
        ("create_screening", "success", made["id"]),
        ("list_screenings", "success", made["id"]),
        ("get_screening", "success", made["id"]),
        ("create_screening", "refused", client["id"]),  # the path names the client
    }
    (created,) = [
        r
        for r in page["items"]
        if (r["action"], r["resource_id"]) == ("create_screening", made["id"])
    ]
    assert created["changed_fields"] == ["contraindications", "decision", "notes", "screened_at"]
    export = await clinic.get("/api/v1/audit-events/export")
    assert "Xanthippe" not in export.text
    assert "aneurysm" not in export.text


async def test_an_idempotent_retry_replays_the_screening_once(clinic: Clinic) -> None:
    client = await clinic.client()
    headers = {"Idempotency-Key": "screening-1"}
    first = await clinic.post(url(client["id"]), json=body(), headers=headers)
    again = await clinic.post(url(client["id"]), json=body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len((await clinic.ok("GET", url(client["id"])))["items"]) == 1


async def test_screenings_are_never_changed_nor_deleted(clinic: Clinic, app: FastAPI) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    single = f"{url(client['id'])}/{made['id']}"
    for method in ("PATCH", "PUT", "DELETE"):
        assert (await clinic.request(method, single, json={})).status_code == 405
    mine = Screening.client_id == uuid.UUID(client["id"])
    for statement in (
        update(Screening).where(mine).values(decision="not_cleared"),
        delete(Screening).where(mine),
    ):
        async with app.state.sessionmaker() as db:
            with pytest.raises(DBAPIError, match="append-only"):
                await db.execute(statement)
            await db.rollback()
    async with app.state.sessionmaker() as db:
        kept = (await db.execute(select(Screening.decision).where(mine))).scalar_one()
    assert kept == "cleared"
