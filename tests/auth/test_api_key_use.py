"""An API key's `last_used_at`: written in the request's own transaction, at most once a minute."""

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.models import ApiKey
from tests.support.factories import T0, Clinic, FakeClock, bearer


class KeyUpdates:
    """The UPDATEs of api_keys the app sends while a test runs."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def key_updates(app: FastAPI) -> Iterator[KeyUpdates]:
    updates = KeyUpdates()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            updates.count += 1

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    yield updates
    event.remove(engine, "before_cursor_execute", count)


async def new_key(clinic: Clinic, role: str = "clinician") -> tuple[uuid.UUID, dict[str, str]]:
    staff_id, _ = await clinic.staff(role)
    created = await clinic.ok(
        "POST", "/api/v1/api-keys", 201, json={"staff_id": staff_id, "name": "usage"}
    )
    return uuid.UUID(created["id"]), bearer(created["key"])


async def last_used(app: FastAPI, key_id: uuid.UUID) -> datetime | None:
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    async with sessionmaker() as db:
        value: datetime | None = (
            await db.execute(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
        ).scalar_one()
    return value


async def test_last_used_at_is_written_at_most_once_a_minute(
    app: FastAPI,
    http: httpx.AsyncClient,
    clinic: Clinic,
    clock: FakeClock,
    key_updates: KeyUpdates,
) -> None:
    key_id, headers = await new_key(clinic)
    assert await last_used(app, key_id) is None
    before = key_updates.count
    assert (await http.get("/api/v1/clients", headers=headers)).status_code == 200
    assert await last_used(app, key_id) == T0
    assert key_updates.count == before + 1
    # Within the minute: no write, read or write request alike.
    clock.advance(timedelta(seconds=30))
    assert (await http.get("/api/v1/clients", headers=headers)).status_code == 200
    clock.advance(timedelta(seconds=29))
    body = {"first_name": "Ada", "last_name": "Use", "date_of_birth": "1980-01-01"}
    assert (await http.post("/api/v1/clients", json=body, headers=headers)).status_code == 201
    assert await last_used(app, key_id) == T0
    assert key_updates.count == before + 1
    # A minute after the last recorded use, the next request records itself.
    clock.advance(timedelta(seconds=1))
    assert (await http.post("/api/v1/clients", json=body, headers=headers)).status_code == 201
    assert await last_used(app, key_id) == T0 + timedelta(minutes=1)
    assert key_updates.count == before + 2
    listed = await clinic.ok("GET", "/api/v1/api-keys", params={"limit": 200})
    shown = next(item for item in listed["items"] if item["id"] == str(key_id))
    assert shown["last_used_at"] == "2026-03-02T12:01:00Z"


async def test_a_failed_request_records_no_use(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic, clock: FakeClock
) -> None:
    key_id, headers = await new_key(clinic)
    missing = await http.get(f"/api/v1/clients/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404
    assert await last_used(app, key_id) is None  # rolled back with the request
    forbidden = await http.get("/api/v1/staff", headers=headers)
    assert forbidden.status_code == 403
    assert await last_used(app, key_id) is None
    await clinic.ok("DELETE", f"/api/v1/api-keys/{key_id}", 204)
    assert (await http.get("/api/v1/clients", headers=headers)).status_code == 401
    assert await last_used(app, key_id) is None
