"""The audit trail: complete for a journey, denied requests recorded, failures not, append-only."""

import json
import logging
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEvent
from tests.support.apps import assert_problem, client_of
from tests.support.factories import T0, Clinic, bearer, bootstrap


async def events(clinic: Clinic, **params: Any) -> list[dict[str, Any]]:
    page = await clinic.ok("GET", "/api/v1/audit-events", params={"limit": 200, **params})
    items: list[dict[str, Any]] = page["items"]
    return items


async def test_a_journey_leaves_a_complete_trail(clinic: Clinic) -> None:
    clinician_id, clinician = await clinic.staff("clinician")
    client = await clinic.ok(
        "POST",
        "/api/v1/clients",
        201,
        headers=clinician,
        json={"first_name": "Ada", "last_name": "Trail", "date_of_birth": "1980-05-05"},
    )
    prep = await clinic.prep(client["id"], T0 - timedelta(days=3), headers=clinician)
    await clinic.action("preparation", prep["id"], "complete", headers=clinician)
    dose = await clinic.dose(client["id"], T0 + timedelta(days=1), headers=clinician)
    integration = await clinic.integration(client["id"], T0 + timedelta(days=2), headers=clinician)
    await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey", headers=clinician)

    mine = await events(clinic, actor_id=clinician_id)
    by_action = {(e["action"], e["resource_id"]): e for e in mine}
    assert by_action[("create_client", client["id"])]["changed_fields"] == [
        "date_of_birth",
        "first_name",
        "last_name",
    ]
    assert by_action[("complete_preparation_session", prep["id"])]["changed_fields"] == ["status"]
    assert ("create_ketamine_session", dose["id"]) in by_action
    assert ("create_integration_session", integration["id"]) in by_action
    # Reading the journey is a read of the client and of every session it shows.
    journey_reads = {e["resource_id"] for e in mine if e["action"] == "get_journey"}
    assert journey_reads == {client["id"], prep["id"], dose["id"], integration["id"]}
    for event in mine:
        assert event["outcome"] == "success"
        assert event["actor_role"] == "clinician"
        assert event["request_id"]
    # The create of the dose also evaluates the other sessions' windows, but only shows the dose.
    dose_request = by_action[("create_ketamine_session", dose["id"])]["request_id"]
    assert {e["resource_id"] for e in mine if e["request_id"] == dose_request} == {dose["id"]}


async def test_denied_requests_are_recorded(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    clinician_id, clinician = await clinic.staff("clinician")
    assert (await clinic.get("/api/v1/staff", headers=clinician)).status_code == 403
    other = await bootstrap(app, http, clinic.clock)
    foreign = await other.client()
    assert (await clinic.get(f"/api/v1/clients/{foreign['id']}")).status_code == 404
    denied = await events(clinic, outcome="denied")
    assert [(e["action"], e["actor_id"]) for e in denied] == [("list_staff", clinician_id)]
    missing = await events(clinic, outcome="not_found")
    assert [(e["action"], e["resource_id"]) for e in missing] == [("get_client", foreign["id"])]
    # Failed authentication has no clinic to file it under, but it is recorded.
    response = await http.get(
        "/api/v1/clients", headers={"X-Request-ID": "bad-key-1", **bearer("kap_x_y")}
    )
    assert response.status_code == 401
    async with app.state.sessionmaker() as db:
        row = (
            await db.execute(select(AuditEvent).where(AuditEvent.client_request_id == "bad-key-1"))
        ).scalar_one()
    assert (row.outcome, row.clinic_id, row.action) == ("unauthenticated", None, "list_clients")


async def test_a_rolled_back_write_leaves_no_row(clinic: Clinic) -> None:
    client = await clinic.client()
    await clinic.prep(client["id"], T0 + timedelta(days=1))
    clash = await clinic.post(
        "/api/v1/preparation-sessions",
        json={
            "client_id": client["id"],
            "starts_at": (T0 + timedelta(days=1)).isoformat(),
            "ends_at": (T0 + timedelta(days=1, hours=1)).isoformat(),
        },
    )
    assert_problem(clash, 409, "schedule_conflict")
    creates = await events(clinic, action="create_preparation_session")
    # The refused write leaves its own row (outcome `refused`), but nothing it would have made.
    assert sorted((e["outcome"], e["status_code"]) for e in creates) == [
        ("refused", 409),
        ("success", 201),
    ]
    refused = next(e for e in creates if e["outcome"] == "refused")
    assert (refused["resource_id"], refused["changed_fields"]) == (None, None)


async def test_the_trail_is_append_only(clinic: Clinic, app: FastAPI) -> None:
    await clinic.client()
    for method in ("PATCH", "DELETE", "PUT"):
        assert (await clinic.request(method, "/api/v1/audit-events")).status_code == 405
    for statement in (update(AuditEvent).values(action="tampered"), delete(AuditEvent)):
        async with app.state.sessionmaker() as db:
            with pytest.raises(DBAPIError, match="append-only"):
                await db.execute(statement)
            await db.rollback()


async def test_filters_and_export(clinic: Clinic) -> None:
    client = await clinic.client()
    clinic.clock.advance(timedelta(hours=1))
    await clinic.ok("GET", f"/api/v1/clients/{client['id']}")
    reads = await events(
        clinic, resource_type="client", resource_id=client["id"], action="get_client"
    )
    assert len(reads) == 1
    since = await events(clinic, since=(T0 + timedelta(minutes=30)).isoformat())
    assert {e["action"] for e in since} >= {"get_client"}
    assert "create_client" not in {e["action"] for e in since}
    until = await events(clinic, until=(T0 + timedelta(minutes=30)).isoformat())
    assert "get_client" not in {e["action"] for e in until}
    response = await clinic.get("/api/v1/audit-events/export", params={"resource_type": "client"})
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert {line["action"] for line in lines} >= {"create_client", "get_client"}
    assert all(line["resource_type"] == "client" for line in lines)
    assert_problem(
        await clinic.get("/api/v1/audit-events", params={"outcome": "meh"}), 422, "validation_error"
    )


async def test_export_streams_more_than_one_batch(clinic: Clinic, app: FastAPI) -> None:
    from app.audit import repository

    await clinic.client()
    original = repository.EXPORT_BATCH
    repository.EXPORT_BATCH = 2
    try:
        for _ in range(3):
            await clinic.ok("GET", "/api/v1/clinic")
        response = await clinic.get("/api/v1/audit-events/export")
    finally:
        repository.EXPORT_BATCH = original
    lines = [json.loads(line) for line in response.text.splitlines()]
    listed = await events(clinic)
    assert [line["id"] for line in lines] == [e["id"] for e in listed][: len(lines)]
    assert len(lines) >= 5


async def test_no_phi_in_audit_rows_or_logs(
    clinic: Clinic, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    phi = {
        "first_name": "Zebulon",
        "last_name": "Quixotica",
        "email": "zebulon.q@example.org",
        "date_of_birth": "1971-11-23",
        "phone": "+1 555 867 5309",
    }
    caplog.set_level(logging.DEBUG)
    client = await clinic.client(**phi, preferred_name="Zeb")
    await clinic.ok("PATCH", f"/api/v1/clients/{client['id']}", json={"last_name": "Quixoticus"})
    await clinic.ok("GET", "/api/v1/clients", params={"q": "Zebulon"})
    prep = await clinic.prep(client["id"], T0 - timedelta(days=2), notes="Zebulon fears needles")
    await clinic.action("preparation", prep["id"], "complete")
    await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    await clinic.get("/api/v1/clients", params={"q": "Zebulon", "limit": 0})
    async with app.state.sessionmaker() as db:
        rows = (
            (
                await db.execute(
                    select(AuditEvent).where(AuditEvent.clinic_id == uuid.UUID(clinic.id))
                )
            )
            .scalars()
            .all()
        )
    logged = [{**r.__dict__, "args": str(r.args)} for r in caplog.records]
    assert any(r.get("fields", {}).get("route") for r in logged), "request log lines expected"
    columns = [c.key for c in AuditEvent.__table__.columns]
    audit = [{c: getattr(row, c) for c in columns} for row in rows]
    dumped = json.dumps(audit, default=str) + json.dumps(logged, default=str)
    # Whole values only: a random hex id may contain a fragment like "1971" by chance.
    for value in [*phi.values(), "Quixoticus", "Zebulon", "needles"]:
        assert value not in dumped, value


async def test_failed_authentication_with_a_known_key_is_filed_under_its_clinic(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    staff_id, headers = await clinic.staff("clinician")
    key = headers["Authorization"].removeprefix("Bearer ")
    prefix = key.split("_")[1]
    forged = await http.get("/api/v1/clients", headers=bearer(f"kap_{prefix}_{'x' * 43}"))
    assert forged.status_code == 401
    await clinic.ok("PATCH", f"/api/v1/staff/{staff_id}", json={"active": False})
    inactive = await http.get("/api/v1/clients", headers=headers)
    assert inactive.status_code == 401
    failures = await events(clinic, outcome="unauthenticated")
    assert sorted((e["actor_id"] or "", e["action"]) for e in failures) == [
        ("", "list_clients"),
        (staff_id, "list_clients"),
    ]


async def test_a_denied_request_names_its_path_id_only_when_it_could_be_one(
    clinic: Clinic, app: FastAPI
) -> None:
    # The role check comes before the path's ids are validated: the trail must take the path
    # as it came, and keep only what could name a resource (a UUID, a FHIR id).
    _, scheduler = await clinic.staff("scheduler")
    consent_id = uuid.uuid4()
    zalgo = "T̺̺̕o͞ ̷i̲̬͇̪͙n̝̗͕v̟̜̘̦͟o̶̙̰̠kè͚̮̺̪̹̱̤ ̖t̝͕̳̣̻̪͞h̼͓̲̦̳̘̲e͇̣̰̦̬͎ ̢̼̻̱̘h͚͎͙̜̣̲ͅi̦̲̣̰̤v̻͍e̺̭̳̪̰"
    named = {
        "a" * 65: None,  # too long for any id
        zalgo: None,  # no id at all, and wider than the column in characters
        "c" * 64: "c" * 64,  # a FHIR id can be this long
        str(consent_id): str(consent_id),
    }
    for path_id in named:
        url = f"/api/v1/clients/{quote(path_id)}/consents/{consent_id}"
        assert (await clinic.get(url, headers=scheduler)).status_code == 403, path_id
    denied = await events(clinic, outcome="denied")  # one instant: in no particular order
    assert sorted(str(e["resource_id"]) for e in denied) == sorted(map(str, named.values()))


async def test_a_client_address_no_ip_could_have_is_left_out_of_the_trail(
    clinic: Clinic, app: FastAPI
) -> None:
    # Behind a trusted proxy the address is what X-Forwarded-For said; a proxy that passes a
    # caller's header unchecked passes any text. The request is answered and audited all the
    # same, without it.
    addresses = {
        "not-an-address": None,
        "not-an-address-" * 6: None,
        "2001:db8::1": "2001:db8::1",
        "fe80::1%any text at all": "fe80::1",  # a zone is any text: the address is kept without
        "203.0.113.7": "203.0.113.7",
    }
    for number, address in enumerate(addresses):
        headers = {**clinic.headers, "X-Request-ID": f"odd-address-{number}"}
        async with client_of(app, ip=address) as http:
            assert (await http.get("/api/v1/clinic", headers=headers)).status_code == 200
    async with app.state.sessionmaker() as db:
        found = await db.execute(
            select(AuditEvent.client_request_id, AuditEvent.ip).where(
                AuditEvent.client_request_id.like("odd-address-%")
            )
        )
    kept = dict(found.all())
    assert [kept[f"odd-address-{n}"] for n in range(len(addresses))] == list(addresses.values())
