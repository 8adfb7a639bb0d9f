"""Idempotency-Key: replay, reuse with another body, in progress, and release on failure."""

import uuid
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select

from app.db import begin_write
from app.idempotency.models import IdempotencyRecord
from app.webhooks.worker import Worker
from tests.common.test_conventions import assert_problem
from tests.factories import T0, Clinic

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
    """A replayable create may carry a secret shown once (API keys, webhook secrets)."""
    staff_id, _ = await clinic.staff("clinician")
    body = {"staff_id": staff_id, "name": "sealed"}
    first = await clinic.ok(
        "POST", "/api/v1/api-keys", 201, json=body, headers={"Idempotency-Key": "seal-1"}
    )
    async with app.state.sessionmaker() as db:
        stored = (
            await db.execute(select(IdempotencyRecord).where(IdempotencyRecord.key == "seal-1"))
        ).scalar_one()
    assert stored.response_body is not None
    assert first["key"].encode() not in stored.response_body
    replay = await clinic.post("/api/v1/api-keys", json=body, headers={"Idempotency-Key": "seal-1"})
    assert replay.json()["key"] == first["key"]


async def test_the_worker_deletes_expired_records(clinic: Clinic, app: FastAPI) -> None:
    for key in ("old", "fresh"):
        await clinic.post("/api/v1/clients", json=NEW_CLIENT, headers={"Idempotency-Key": key})
        clinic.clock.advance(timedelta(hours=12))
    clinic.clock.advance(timedelta(seconds=1))  # "old" is now 24 h + 1 s old
    worker = Worker(app.state.sessionmaker, app.state.settings, app.state.secret_box, clinic.clock)
    assert await worker.clean_up() >= 1  # other tests' expired keys go too
    async with app.state.sessionmaker() as db:
        mine = select(IdempotencyRecord.key).where(
            IdempotencyRecord.clinic_id == uuid.UUID(clinic.id)
        )
        kept = (await db.execute(mine)).scalars().all()
    assert list(kept) == ["fresh"]
