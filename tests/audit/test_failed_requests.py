"""Failed requests in the audit trail: refused writes on PHI resources leave a `refused` row
with the status and nothing of the body; denied requests without a verified caller are written
only within a bound per address and per clinic (or for all without one) per minute, the rest
counted on /metrics."""

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.security import security_state
from tests.inbound.payloads import calcom_headers
from tests.inbound.provider_support import calcom_event
from tests.inbound.support import make_integration
from tests.support.apps import HandClock, MakeApp, client_of
from tests.support.factories import T0, Clinic, FakeClock, bearer, bootstrap


async def rows(app: FastAPI, **where: Any) -> list[AuditEvent]:
    query = select(AuditEvent).where(
        *(getattr(AuditEvent, column) == value for column, value in where.items())
    )
    async with app.state.sessionmaker() as db:
        return list((await db.execute(query)).scalars().all())


def dumped(found: list[AuditEvent]) -> str:
    columns = [column.key for column in AuditEvent.__table__.columns]
    return json.dumps([{c: getattr(row, c) for c in columns} for row in found], default=str)


async def test_refused_writes_on_phi_resources_leave_a_refused_row_without_the_body(
    clinic: Clinic, app: FastAPI
) -> None:
    clinician_id, clinician = await clinic.staff("clinician")
    client = await clinic.client()
    await clinic.prep(client["id"], T0 + timedelta(days=1))
    clash = await clinic.post(
        "/api/v1/preparation-sessions",
        headers=clinician,
        json={
            "client_id": client["id"],
            "starts_at": (T0 + timedelta(days=1)).isoformat(),
            "ends_at": (T0 + timedelta(days=1, hours=1)).isoformat(),
            "notes": "Xanthippe dreads the clinic",
        },
    )
    assert clash.status_code == 409
    invalid = await clinic.patch(
        f"/api/v1/clients/{client['id']}",
        headers=clinician,
        json={"date_of_birth": "Ptolemaia-not-a-date", "first_name": "Ptolemaia"},
    )
    assert invalid.status_code == 422  # FastAPI's own validation, not an AppError
    stale = await clinic.patch(
        f"/api/v1/clients/{client['id']}",
        headers={**clinician, "If-Match": '"999"'},
        json={"first_name": "Berenike"},
    )
    assert stale.status_code == 412

    refused = await rows(app, clinic_id=uuid.UUID(clinic.id), outcome="refused")
    found = sorted((r.action, r.status_code, r.resource_type, r.resource_id) for r in refused)
    assert found == [
        ("create_preparation_session", 409, "session", None),
        ("update_client", 412, "client", client["id"]),
        ("update_client", 422, "client", client["id"]),
    ]
    assert {(str(r.actor_id), r.actor_role) for r in refused} == {(clinician_id, "clinician")}
    assert all(r.changed_fields is None for r in refused)
    text = dumped(refused)
    for value in ("Xanthippe", "dreads", "Ptolemaia", "Berenike"):
        assert value not in text, value


async def test_failed_reads_and_admin_typos_are_not_refusals(clinic: Clinic, app: FastAPI) -> None:
    listed = await clinic.get("/api/v1/clients", params={"limit": "many"})
    assert listed.status_code == 422
    typo = await clinic.post("/api/v1/staff", json={"email": "nope", "name": "X", "role": "admin"})
    assert typo.status_code == 422
    assert await rows(app, clinic_id=uuid.UUID(clinic.id), outcome="refused") == []


async def test_denials_no_clinic_owns_are_bounded_per_address_and_overall(
    make_app: MakeApp, wall: HandClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(
        rate_limit_per_minute=0,  # the bound holds with rate limiting off too
        audit_unverified_denials_per_address=3,
        audit_unverified_denials_per_minute=5,
    )
    security = security_state(app)
    assert security is not None
    security.unverified_denials.clock = wall
    caplog.set_level(logging.WARNING, logger="app.audit.denials")
    one, two, three = "192.0.2.101", "192.0.2.102", "192.0.2.103"
    for ip in (one, two, three):
        async with client_of(app, ip=ip) as http:
            for n in range(10):
                made_up = bearer(f"kap_nobody{n}_{'q' * 43}")
                assert (await http.get("/api/v1/clients", headers=made_up)).status_code == 401
    written = {ip: len(await rows(app, ip=ip, clinic_id=None)) for ip in (one, two, three)}
    assert written == {one: 3, two: 2, three: 0}  # 3 per address, 5 in all
    assert "kap_audit_denials_unwritten_total 25.0" in await _metrics(app)
    # One warning at the first row left out, then at most one a minute, with the count since.
    assert _summaries(caplog) == [1]
    wall.advance(120)  # the windows have passed: rows are admitted again
    async with client_of(app, ip=three) as http:
        for _ in range(4):
            assert (await http.get("/api/v1/clients")).status_code == 401
    assert len(await rows(app, ip=three, clinic_id=None)) == 3
    assert _summaries(caplog) == [1, 25]
    assert "kap_audit_denials_unwritten_total 26.0" in await _metrics(app)


def _summaries(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [
        record.__dict__["fields"]["unwritten"]
        for record in caplog.records
        if "left out of the audit trail" in record.getMessage()
    ]


async def test_unverified_denials_filed_under_a_clinic_are_bounded_too(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    """A real key's prefix with a wrong secret, a bad signature on a real integration, a wrong
    secret on a real feed token's prefix: each names the clinic, none proves anything, so they
    pass the bound per address and per clinic; a verified caller's denials are all written."""
    app = make_app(
        rate_limit_per_minute=0,  # the bound holds with rate limiting off too
        audit_unverified_denials_per_address=2,
        audit_unverified_denials_per_minute=5,
    )
    async with client_of(app, ip="192.0.2.120") as http:
        clinic = await bootstrap(app, http, clock)
        integration = await make_integration(clinic, "calcom")
        token = (await clinic.ok("POST", f"/api/v1/staff/{clinic.admin_id}/calendar-token", 201))[
            "token"
        ]
    prefix = clinic.admin_key.split("_")[1]
    body = calcom_event()
    bad_token = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    attempts: dict[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]] = {
        "192.0.2.121": lambda http: http.get(
            "/api/v1/clients", headers=bearer(f"kap_{prefix}_{'w' * 43}")
        ),
        "192.0.2.122": lambda http: http.post(
            f"/api/v1/inbound/{integration['id']}",
            content=body,
            headers=calcom_headers("not-the-secret", body),
        ),
        "192.0.2.123": lambda http: http.get(
            f"/api/v1/staff/{clinic.admin_id}/calendar.ics?token={bad_token}"
        ),
    }
    for ip, attempt in attempts.items():
        async with client_of(app, ip=ip) as http:
            answers = {(await attempt(http)).status_code for _ in range(6)}
            assert answers <= {401, 404}, answers
    filed = await rows(app, clinic_id=uuid.UUID(clinic.id))
    denied = sorted((row.ip, row.action, row.outcome) for row in filed if row.actor_id is None)
    assert denied == [
        ("192.0.2.121", "list_clients", "unauthenticated"),
        ("192.0.2.121", "list_clients", "unauthenticated"),
        ("192.0.2.122", "receive_inbound_delivery", "unauthenticated"),
        ("192.0.2.122", "receive_inbound_delivery", "unauthenticated"),
        ("192.0.2.123", "get_calendar_feed", "not_found"),  # the clinic's 5 for this minute
    ]
    assert "kap_audit_denials_unwritten_total 13.0" in await _metrics(app)
    # The clinic's own admin, verified, is not bounded: every denial of theirs is kept.
    async with client_of(app, ip="192.0.2.121") as http:
        for _ in range(6):
            missing = await http.get(f"/api/v1/clients/{uuid.uuid4()}", headers=clinic.headers)
            assert missing.status_code == 404
    kept = await rows(app, clinic_id=uuid.UUID(clinic.id), outcome="not_found")
    assert len([row for row in kept if row.actor_id is not None]) == 6


async def _metrics(app: FastAPI) -> str:
    async with client_of(app, ip="127.0.0.1") as http:
        return (await http.get("/metrics")).text
