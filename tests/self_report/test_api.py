"""/api/v1/clients/{id}/assessment-requests: created, listed and revoked by clinical roles; the
token shown once and stored hashed; another clinic's client is 404, the scheduler's call 403."""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from app.self_report.models import AssessmentRequest
from tests.self_report.support import (
    answers,
    create_link,
    requests_url,
    stored_link,
    submit,
    token_of,
    utc,
)
from tests.support.apps import MakeApp
from tests.support.factories import T0, Clinic, FakeClock, bootstrap


async def test_a_link_is_created_with_an_absolute_url_and_a_default_of_72_hours(
    clinic: Clinic, clock: FakeClock
) -> None:
    client = await clinic.client()
    response = await clinic.post(requests_url(client["id"]), json={"instrument": "gad7"})
    assert response.status_code == 201, response.text
    link = response.json()
    assert link["url"].startswith("http://kap.test/r/kapsr_")
    assert (link["instrument"], link["status"], link["client_id"]) == (
        "gad7",
        "pending",
        client["id"],
    )
    assert link["expires_at"] == utc(T0 + timedelta(hours=72))
    assert (link["created_by"], link["assessment_id"], link["version"]) == (
        clinic.admin_id,
        None,
        1,
    )
    location = f"{requests_url(client['id'])}/{link['id']}"
    assert response.headers["Location"] == location
    again = await clinic.ok("GET", location)
    assert again["url"] is None  # shown once: the token is not stored
    assert again["status"] == "pending"


async def test_the_url_is_built_on_kap_public_url_when_set(
    make_app: MakeApp, clinic: Clinic
) -> None:
    app = make_app(public_url="https://kap.example.org/clinic/")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as http:
        client = await clinic.ok("POST", "/api/v1/clients", 201, json=_CLIENT)
        response = await http.post(
            requests_url(client["id"]), json={"instrument": "pcl5"}, headers=clinic.headers
        )
    assert response.status_code == 201, response.text
    url = response.json()["url"]
    assert url.startswith("https://kap.example.org/clinic/r/kapsr_"), url


_CLIENT = {"first_name": "Ines", "last_name": "Duarte", "date_of_birth": "1979-01-02"}


async def test_expires_in_hours_and_session_id(clinic: Clinic) -> None:
    client, other = await clinic.client(), await clinic.client(last_name="Other")
    session = await clinic.prep(client["id"], T0 + timedelta(days=2))
    foreign = await clinic.prep(other["id"], T0 + timedelta(days=2))
    link = await create_link(clinic, client["id"], expires_in_hours=336, session_id=session["id"])
    assert link["expires_at"] == utc(T0 + timedelta(hours=336))
    assert link["session_id"] == session["id"]
    url = requests_url(client["id"])
    for body in (
        {"instrument": "phq9", "expires_in_hours": 0},
        {"instrument": "phq9", "expires_in_hours": 337},
        {"instrument": "phq9", "expires_in_hours": "12"},
        {"instrument": "bdi"},
        {"instrument": "phq9", "session_id": foreign["id"]},
        {"instrument": "phq9", "url": "https://evil.example"},
    ):
        response = await clinic.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert len((await clinic.ok("GET", url))["items"]) == 1


async def test_the_list_shows_every_status_and_no_url(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic, clock: FakeClock
) -> None:
    client = await clinic.client()
    pending = await create_link(clinic, client["id"])
    expired = await create_link(clinic, client["id"], expires_in_hours=1)
    revoked = await create_link(clinic, client["id"])
    completed = await create_link(clinic, client["id"], "gad7")
    await clinic.ok("POST", f"{requests_url(client['id'])}/{revoked['id']}/revoke")
    assert (await submit(http, completed, answers("gad7"))).status_code == 200
    clock.advance(timedelta(hours=1))
    listed = (await clinic.ok("GET", requests_url(client["id"])))["items"]
    statuses = {item["id"]: item["status"] for item in listed}
    assert statuses == {
        pending["id"]: "pending",
        expired["id"]: "expired",
        revoked["id"]: "revoked",
        completed["id"]: "completed",
    }
    assert {item["url"] for item in listed} == {None}
    done = next(item for item in listed if item["id"] == completed["id"])
    assessment = await clinic.ok(
        "GET", f"/api/v1/clients/{client['id']}/assessments/{done['assessment_id']}"
    )
    assert assessment["source"] == "client_self_report"


async def test_revoke_closes_a_pending_link_only(
    http: httpx.AsyncClient, clinic: Clinic, clock: FakeClock
) -> None:
    client = await clinic.client()
    url = requests_url(client["id"])
    link = await create_link(clinic, client["id"])
    revoked = await clinic.ok("POST", f"{url}/{link['id']}/revoke")
    assert (revoked["status"], revoked["revoked_by"], revoked["version"]) == (
        "revoked",
        clinic.admin_id,
        2,
    )
    again = await clinic.ok("POST", f"{url}/{link['id']}/revoke")
    assert again["version"] == 2  # revoking a revoked link changes nothing
    assert (await submit(http, link, answers("phq9"))).status_code == 410
    used = await create_link(clinic, client["id"])
    assert (await submit(http, used, answers("phq9"))).status_code == 200
    response = await clinic.post(f"{url}/{used['id']}/revoke")
    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")
    stale = await create_link(clinic, client["id"], expires_in_hours=1)
    clock.advance(timedelta(hours=1))
    response = await clinic.post(f"{url}/{stale['id']}/revoke")
    assert response.status_code == 409
    fresh = await create_link(clinic, client["id"])
    response = await clinic.post(f"{url}/{fresh['id']}/revoke", headers={"If-Match": '"7"'})
    assert response.status_code == 412


async def test_the_scheduler_gets_403_and_another_clinic_404(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic, clock: FakeClock
) -> None:
    client = await clinic.client()
    link = await create_link(clinic, client["id"])
    _, scheduler = await clinic.staff("scheduler")
    clinician_id, clinician = await clinic.staff("clinician")
    url = requests_url(client["id"])
    for method, path in (
        ("POST", url),
        ("GET", url),
        ("GET", f"{url}/{link['id']}"),
        ("POST", f"{url}/{link['id']}/revoke"),
    ):
        body = {"json": {"instrument": "phq9"}} if path == url and method == "POST" else {}
        response = await clinic.request(method, path, headers=scheduler, **body)
        assert response.status_code == 403, (method, path, response.text)
        allowed = await clinic.request(method, path, headers=clinician, **body)
        assert allowed.status_code in (200, 201), (method, path, allowed.text)
    other = await bootstrap(app, http, clock)
    for method, path in (
        ("POST", url),
        ("GET", url),
        ("GET", f"{url}/{link['id']}"),
        ("POST", f"{url}/{link['id']}/revoke"),
    ):
        body = {"json": {"instrument": "phq9"}} if path == url and method == "POST" else {}
        response = await other.request(method, path, **body)
        assert response.status_code == 404, (method, path, response.text)
    # A link of this clinic asked for under another of its clients is not found either.
    second = await clinic.client(last_name="Second")
    response = await clinic.get(f"{requests_url(second['id'])}/{link['id']}")
    assert response.status_code == 404
    # Only this clinic's clinician revoked it; the other clinic's attempt changed nothing.
    assert str((await stored_link(app, link["id"])).revoked_by) == clinician_id


async def test_the_database_never_holds_the_token(
    app: FastAPI, clinic: Clinic, backend: str
) -> None:
    client = await clinic.client()
    link = await create_link(clinic, client["id"])
    token = token_of(link)
    secret = token.split("_", 2)[2]
    row = await stored_link(app, link["id"])
    assert row.secret_hash != secret
    assert secret not in row.secret_hash
    assert token.split("_")[1] == row.prefix
    async with app.state.sessionmaker() as db:
        found = await db.execute(
            select(AssessmentRequest.id).where(AssessmentRequest.secret_hash.contains(secret))
        )
        assert found.first() is None
        # Nowhere in the database: every text column of every table, the audit trail included.
        dump = await _dump(db, backend)
    assert secret not in dump
    assert link["id"] in dump  # the dump does see the link's own row


async def _dump(db: object, backend: str) -> str:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(db, AsyncSession)
    if backend == "postgresql":
        names = await db.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
    else:
        names = await db.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
    chunks = []
    for (name,) in names.all():
        rows = await db.execute(text(f'SELECT * FROM "{name}"'))  # noqa: S608 - catalog names
        chunks += [repr(tuple(row)) for row in rows.all()]
    return "\n".join(chunks)


@pytest.mark.parametrize("holds", ["first", "replay"])
async def test_an_idempotent_replay_never_shows_the_url_again(clinic: Clinic, holds: str) -> None:
    client = await clinic.client()
    headers = {"Idempotency-Key": f"link-{holds}"}
    url = requests_url(client["id"])
    first = await clinic.post(url, json={"instrument": "phq9"}, headers=headers)
    assert first.status_code == 201
    replay = await clinic.post(url, json={"instrument": "phq9"}, headers=headers)
    assert replay.status_code == 409, replay.text
    assert replay.json()["code"] == "idempotent_secret_not_replayed"
    assert "kapsr_" not in replay.text
    assert len((await clinic.ok("GET", url))["items"]) == 1
