"""Idempotency-Key: replay, reuse with another body, in progress, release on failure, and a
replay's authorization (the caller's current role, once-shown secrets)."""

import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute

from app.db import begin_write
from app.idempotency.dependencies import replay_policy
from app.idempotency.models import IdempotencyRecord
from app.worker import Worker
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic

NEW_CLIENT = {"first_name": "Ida", "last_name": "Key", "date_of_birth": "1979-09-09"}


async def test_same_key_same_body_replays_the_first_response(clinic: Clinic) -> None:
    headers = {"Idempotency-Key": "create-ida-1"}
    first = await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    listed = await clinic.ok("GET", "/api/v1/clients", params={"q": "Ida"})
    assert len(listed["items"]) == 1


async def test_same_key_different_body_is_422(clinic: Clinic) -> None:
    headers = {"Idempotency-Key": "create-ida-2"}
    assert (
        await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers=headers)
    ).status_code == 201
    other = {**NEW_CLIENT, "first_name": "Ada"}
    response = await clinic.post("/api/v1/clients", json=other, headers=headers)
    assert_problem(response, 422, "idempotency_key_reused")
    listed = await clinic.ok("GET", "/api/v1/clients", params={"q": "Ada"})
    assert listed["items"] == []


async def test_key_in_progress_is_409_until_its_lease_expires(clinic: Clinic, app: FastAPI) -> None:
    sessionmaker = app.state.sessionmaker
    first = await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers={"Idempotency-Key": "k3"})
    assert first.status_code == 201
    # Simulate a request still running with key "k4": claimed, not completed.
    async with sessionmaker() as db:
        await begin_write(db)
        record = (
            await db.execute(select(IdempotencyRecord).where(IdempotencyRecord.key == "k3"))
        ).scalar_one()
        db.add(
            IdempotencyRecord(
                clinic_id=record.clinic_id,
                staff_id=record.staff_id,
                key="k4",
                request_hash=record.request_hash,
                locked_at=clinic.clock.now,
                expires_at=clinic.clock.now + timedelta(hours=24),
                completed=False,
            )
        )
        await db.commit()
    running = await clinic.post(
        "/api/v1/clients", json=NEW_CLIENT, headers={"Idempotency-Key": "k4"}
    )
    assert_problem(running, 409, "idempotency_key_in_progress")
    # A claim whose request died (lease over) is taken over.
    clinic.clock.advance(timedelta(minutes=5))
    taken = await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers={"Idempotency-Key": "k4"})
    assert taken.status_code == 201


async def test_a_failed_request_releases_its_key(clinic: Clinic) -> None:
    client = await clinic.client()
    await clinic.prep(client["id"], T0 + timedelta(days=1))
    clash = {
        "client_id": client["id"],
        "starts_at": (T0 + timedelta(days=1)).isoformat(),
        "ends_at": (T0 + timedelta(days=1, hours=1)).isoformat(),
    }
    headers = {"Idempotency-Key": "book-1"}
    response = await clinic.post("/api/v1/preparation-sessions", json=clash, headers=headers)
    assert_problem(response, 409, "schedule_conflict")
    moved = {
        **clash,
        "starts_at": (T0 + timedelta(days=2)).isoformat(),
        "ends_at": (T0 + timedelta(days=2, hours=1)).isoformat(),
    }
    retry = await clinic.post("/api/v1/preparation-sessions", json=moved, headers=headers)
    assert retry.status_code == 201


async def test_keys_expire_after_24_hours(clinic: Clinic) -> None:
    headers = {"Idempotency-Key": "daily"}
    first = await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers=headers)
    clinic.clock.advance(timedelta(hours=24, seconds=1))
    second = await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers=headers)
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]


async def test_stored_responses_are_sealed_at_rest(clinic: Clinic, app: FastAPI) -> None:
    """A replayable create carries PHI (a client's name): stored sealed, replayed in full."""
    body = {**NEW_CLIENT, "last_name": "Sealedname"}
    first = await clinic.ok(
        "POST", "/api/v1/clients", 201, json=body, headers={"Idempotency-Key": "seal-1"}
    )
    stored = await _record(app, "seal-1")
    assert stored.response_body is not None
    assert b"Sealedname" not in stored.response_body
    replay = await clinic.post("/api/v1/clients", json=body, headers={"Idempotency-Key": "seal-1"})
    assert replay.json() == first


async def test_the_worker_deletes_expired_records(clinic: Clinic, app: FastAPI) -> None:
    for key in ("old", "fresh"):
        await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers={"Idempotency-Key": key})
        clinic.clock.advance(timedelta(hours=12))
    clinic.clock.advance(timedelta(seconds=1))  # "old" is now 24 h + 1 s old
    worker = Worker(app.state.sessionmaker, app.state.settings, app.state.secret_box, clinic.clock)
    assert await worker.purge() >= 1  # other tests' expired keys go too
    async with app.state.sessionmaker() as db:
        mine = select(IdempotencyRecord.key).where(
            IdempotencyRecord.clinic_id == uuid.UUID(clinic.id)
        )
        kept = (await db.execute(mine)).scalars().all()
    assert list(kept) == ["fresh"]


async def _record(app: FastAPI, key: str) -> IdempotencyRecord:
    statement = select(IdempotencyRecord).where(IdempotencyRecord.key == key)
    async with app.state.sessionmaker() as db:
        record: IdempotencyRecord = (await db.execute(statement)).scalar_one()
    return record


# --- A replay passes the authorization of a fresh request ------------------------------------

HOOK: dict[str, object] = {"url": "http://127.0.0.1:9/hook", "event_types": ["session.scheduled"]}


async def _set_staff(clinic: Clinic, staff_id: str, **change: object) -> None:
    await clinic.ok("PATCH", f"/api/v1/staff/{staff_id}", json=change)


async def _api_key_create(clinic: Clinic) -> tuple[str, dict[str, object], str]:
    staff_id, _ = await clinic.staff("clinician")
    return "/api/v1/api-keys", {"staff_id": staff_id, "name": "replayed"}, "key"


async def _webhook_create(clinic: Clinic) -> tuple[str, dict[str, object], str]:
    return "/api/v1/webhook-endpoints", HOOK, "secret"


async def _calendar_token_create(clinic: Clinic) -> tuple[str, dict[str, object], str]:
    staff_id, _ = await clinic.staff("clinician")
    return f"/api/v1/staff/{staff_id}/calendar-token", {}, "token"


SECRET_CREATES = {
    "api_key": _api_key_create,
    "webhook_endpoint": _webhook_create,
    "calendar_token": _calendar_token_create,
}


@pytest.mark.parametrize("create", sorted(SECRET_CREATES))
async def test_a_once_shown_secret_is_neither_stored_nor_replayed(
    create: str, clinic: Clinic, app: FastAPI
) -> None:
    url, body, field = await SECRET_CREATES[create](clinic)
    headers = {"Idempotency-Key": f"secret-{create}"}
    first = await clinic.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    secret = str(first.json()[field])
    assert (await _record(app, f"secret-{create}")).response_body is None
    replay = await clinic.post(url, json=body, headers=headers)  # the same admin, still admin
    assert_problem(replay, 409, "idempotent_secret_not_replayed")
    assert secret not in replay.text
    assert "idempotent-replayed" not in replay.headers
    assert replay.headers["location"] == first.headers["location"]  # what to revoke or rotate


@pytest.mark.parametrize("create", ["api_key", "webhook_endpoint"])
async def test_a_demoted_admin_replaying_an_admin_create_is_403(
    create: str, clinic: Clinic
) -> None:
    url, body, field = await SECRET_CREATES[create](clinic)
    admin_id, admin = await clinic.staff("admin")
    headers = {**admin, "Idempotency-Key": f"demoted-{create}"}
    first = await clinic.ok("POST", url, 201, json=body, headers=headers)
    await _set_staff(clinic, admin_id, role="scheduler")
    replay = await clinic.post(url, json=body, headers=headers)
    assert_problem(replay, 403, "forbidden")
    assert str(first[field]) not in replay.text


async def test_a_former_admin_replaying_a_calendar_token_for_another_member_is_403(
    clinic: Clinic,
) -> None:
    url, _, _ = await _calendar_token_create(clinic)
    admin_id, admin = await clinic.staff("admin")
    headers = {**admin, "Idempotency-Key": "calendar-demoted"}
    await clinic.ok("POST", url, 201, headers=headers)
    await _set_staff(clinic, admin_id, role="clinician")  # a clinician may issue only their own
    assert_problem(await clinic.post(url, headers=headers), 403, "forbidden")


CLINICAL_CREATES = {
    "client": ("/api/v1/clients", NEW_CLIENT),
    "assessment": (
        "/api/v1/clients/{client}/assessments",
        {"instrument": "phq9", "item_scores": [2] * 9, "administered_at": T0.isoformat()},
    ),
}


@pytest.mark.parametrize("create", sorted(CLINICAL_CREATES))
async def test_a_demoted_clinician_replaying_a_clinical_create_is_403(
    create: str, clinic: Clinic
) -> None:
    client = await clinic.client()
    url, body = CLINICAL_CREATES[create]
    url = url.format(client=client["id"])
    clinician_id, clinician = await clinic.staff("clinician")
    headers = {**clinician, "Idempotency-Key": f"clinical-{create}"}
    first = await clinic.ok("POST", url, 201, json=body, headers=headers)
    await _set_staff(clinic, clinician_id, role="scheduler")
    replay = await clinic.post(url, json=body, headers=headers)
    assert_problem(replay, 403, "forbidden")
    assert first["id"] not in replay.text
    assert "1979-09-09" not in replay.text
    assert "item_scores" not in replay.text


async def _dose_by_clinician(
    clinic: Clinic, **extra: object
) -> tuple[str, dict[str, str], dict[str, object]]:
    client = await clinic.prepared_client()
    clinician_id, clinician = await clinic.staff("clinician")
    at = T0 + timedelta(days=3)
    body = {
        "client_id": client["id"],
        "starts_at": at.isoformat(),
        "ends_at": (at + timedelta(hours=2)).isoformat(),
        "route": "iv",
        **extra,
    }
    return clinician_id, clinician, body


async def test_a_replay_rendered_for_a_wider_role_is_409_with_its_location(
    clinic: Clinic,
) -> None:
    """A demoted clinician may still book, but the stored body shows the dose's clinical fields."""
    clinician_id, clinician, body = await _dose_by_clinician(clinic)
    headers = {**clinician, "Idempotency-Key": "dose-narrowed"}
    first = await clinic.ok("POST", "/api/v1/ketamine-sessions", 201, json=body, headers=headers)
    assert "medication" in first
    await _set_staff(clinic, clinician_id, role="scheduler")
    replay = await clinic.post("/api/v1/ketamine-sessions", json=body, headers=headers)
    assert_problem(replay, 409, "idempotent_role_changed")
    assert "medication" not in replay.json()
    location = replay.headers["location"]
    assert location == f"/api/v1/ketamine-sessions/{first['id']}"
    shown = await clinic.ok("GET", location, headers=clinician)
    assert shown["id"] == first["id"]
    assert "medication" not in shown


async def test_a_replay_of_a_clinical_write_by_a_demoted_clinician_is_403(clinic: Clinic) -> None:
    clinician_id, clinician, body = await _dose_by_clinician(clinic, notes="Tolerated well.")
    headers = {**clinician, "Idempotency-Key": "dose-notes"}
    await clinic.ok("POST", "/api/v1/ketamine-sessions", 201, json=body, headers=headers)
    await _set_staff(clinic, clinician_id, role="scheduler")
    replay = await clinic.post("/api/v1/ketamine-sessions", json=body, headers=headers)
    assert_problem(replay, 403, "forbidden")  # as a fresh booking with notes would be


async def test_a_replay_to_a_role_that_sees_as_much_is_served(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    scheduler_id, scheduler = await clinic.staff("scheduler")
    at = T0 + timedelta(days=4)
    body = {
        "client_id": client["id"],
        "clinician_id": clinic.admin_id,
        "starts_at": at.isoformat(),
        "ends_at": (at + timedelta(hours=1)).isoformat(),
    }
    headers = {**scheduler, "Idempotency-Key": "promoted"}
    first = await clinic.ok("POST", "/api/v1/integration-sessions", 201, json=body, headers=headers)
    await _set_staff(clinic, scheduler_id, role="clinician")
    replay = await clinic.post("/api/v1/integration-sessions", json=body, headers=headers)
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first


async def test_a_deactivated_member_or_revoked_key_replays_nothing(clinic: Clinic) -> None:
    member_id, member = await clinic.staff("clinician")
    headers = {**member, "Idempotency-Key": "inactive"}
    await clinic.ok("POST", "/api/v1/clients", 201, json=NEW_CLIENT, headers=headers)
    await _set_staff(clinic, member_id, active=False)
    assert_problem(
        await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers=headers), 401, "unauthorized"
    )
    _, other = await clinic.staff("clinician")
    headers = {**other, "Idempotency-Key": "revoked"}
    await clinic.ok("POST", "/api/v1/clients", 201, json=NEW_CLIENT, headers=headers)
    keys = await clinic.ok("GET", "/api/v1/api-keys", params={"limit": 200})
    prefix = other["Authorization"].split("_")[1]  # Bearer kap_<prefix>_<secret>
    (key,) = [k for k in keys["items"] if k["prefix"] == prefix]
    await clinic.ok("DELETE", f"/api/v1/api-keys/{key['id']}", 204)
    assert_problem(
        await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers=headers), 401, "unauthorized"
    )


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            yield from _api_routes(included.routes)


def test_every_create_is_guarded_after_its_own_role_check(app: FastAPI) -> None:
    """The guard shares the route's role dependency (so it runs first); secrets are not replayed,
    and the OpenAPI document says what a refused replay answers."""
    creates = [
        route
        for route in _api_routes(app.routes)
        if "POST" in (route.methods or ()) and route.status_code == 201
    ]
    assert len(creates) >= 9
    spec = app.openapi()["paths"]
    for route in creates:
        guards = [d for d in route.dependant.dependencies if replay_policy(d.call) is not None]
        assert len(guards) == 1, route.path
        policy = replay_policy(guards[0].call)
        assert policy is not None
        route_role = {d.name: d.call for d in route.dependant.dependencies}["principal"]
        guard_role = {d.name: d.call for d in guards[0].dependencies}["principal"]
        assert guard_role is route_role, route.path
        model_fields = getattr(route.response_model, "model_fields", {})
        # A secret is a field so named, or one marked as shown once (a self-report link's url).
        secrets = {
            name
            for name, info in model_fields.items()
            if name in {"key", "secret", "token"}
            or (
                isinstance(info.json_schema_extra, dict)
                and info.json_schema_extra.get("x-shown-once")
            )
        }
        assert policy.holds_secret == bool(secrets), route.path
        refused = (
            "idempotent_secret_not_replayed" if policy.holds_secret else "idempotent_role_changed"
        )
        assert refused in spec[route.path]["post"]["responses"]["409"]["description"], route.path
