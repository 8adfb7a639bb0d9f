"""`kap-journey serve` SIGKILLed while several clients write to it, on PostgreSQL.

Every write it acknowledged is there after a restart, intact, with its audit row and its outbox
rows (they commit in one transaction); nothing it did not acknowledge is half-written; and retrying
the requests it never answered, with their Idempotency-Key, settles each of them exactly once.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.faults.support import (
    Admin,
    Api,
    Fleet,
    bootstrap_admin,
    fetch,
    subscribe,
)
from tests.support.servers import free_port

WRITERS = 6
ACKNOWLEDGED_BEFORE_KILL = 60
TIMEOUT = httpx.Timeout(15.0)
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@dataclass
class Write:
    """One POST with its Idempotency-Key, and what became of it."""

    path: str
    body: dict[str, Any]
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    resource: dict[str, Any] | None = None  # the 201 body, once acknowledged

    @property
    def kind(self) -> str:
        return "client" if self.path.endswith("/clients") else "session"

    async def send(self, http: httpx.AsyncClient, admin: Admin) -> httpx.Response:
        return await http.post(
            self.path, json=self.body, headers={**admin.headers, "Idempotency-Key": self.key}
        )


@dataclass
class Load:
    writes: list[Write] = field(default_factory=list)
    cut_off: int = 0  # requests that got no answer because the server died under them

    @property
    def acknowledged(self) -> list[Write]:
        return [write for write in self.writes if write.resource is not None]

    @property
    def unanswered(self) -> list[Write]:
        return [write for write in self.writes if write.resource is None]


async def attempt(http: httpx.AsyncClient, admin: Admin, load: Load, write: Write) -> bool:
    """Send one write; False once the server is gone."""
    load.writes.append(write)
    try:
        response = await write.send(http, admin)
    except httpx.ConnectError:
        return False  # it never reached a server
    except httpx.TransportError:
        load.cut_off += 1
        return False
    assert response.status_code == 201, response.text
    write.resource = response.json()
    return True


async def write_until_the_server_dies(
    http: httpx.AsyncClient, admin: Admin, load: Load, number: int
) -> None:
    """A client, then a preparation session for it, again and again."""
    for round_ in range(10_000):
        person = {
            "first_name": f"W{number}",
            "last_name": f"R{round_}",
            "date_of_birth": "1980-02-03",
        }
        client = Write("/api/v1/clients", person)
        if not await attempt(http, admin, load, client):
            return
        assert client.resource is not None
        at = T0 + timedelta(days=round_)
        booking = {
            "client_id": client.resource["id"],
            "starts_at": at.isoformat(),
            "ends_at": (at + timedelta(hours=1)).isoformat(),
        }
        if not await attempt(http, admin, load, Write("/api/v1/preparation-sessions", booking)):
            return


@pytest.fixture
def fleet_settings() -> dict[str, str]:
    # A cut-off request leaves its Idempotency-Key claimed; after 1 s a retry may take it over.
    return {"idempotency_lease_seconds": "1"}


async def kill_under_load(api: Api, admin: Admin, fleet: Fleet) -> Load:
    load = Load()
    async with httpx.AsyncClient(base_url=api.url, timeout=TIMEOUT) as http:
        writers = [
            asyncio.create_task(write_until_the_server_dies(http, admin, load, number))
            for number in range(WRITERS)
        ]
        while len(load.acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
            for task in writers:
                if task.done():
                    task.result()  # a writer's own failure, if it had one
                    raise AssertionError(f"a writer lost the server early\n{fleet.logs()}")
            await asyncio.sleep(0.01)
        api.kill()  # every writer is awaiting a response now
        await asyncio.gather(*writers)
    return load


def matches(write: Write, stored: dict[str, Any]) -> bool:
    if write.kind == "client":
        return all(stored[name] == value for name, value in write.body.items())
    return stored["client_id"] == write.body["client_id"] and all(
        datetime.fromisoformat(stored[name]) == datetime.fromisoformat(write.body[name])
        for name in ("starts_at", "ends_at")
    )


async def read_back(api: Api, admin: Admin, writes: list[Write]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=api.url, timeout=TIMEOUT, headers=admin.headers) as http:
        stored = []
        for write in writes:
            assert write.resource is not None
            response = await http.get(f"{write.path}/{write.resource['id']}")
            assert response.status_code == 200, (write, response.text)
            stored.append(response.json())
        return stored


async def stored_ids(database_url: str) -> dict[str, set[str]]:
    """Every client and session on record, and the ones with their audit row and outbox rows."""
    queries = {
        "client": "SELECT id::text FROM clients",
        "session": "SELECT id::text FROM sessions",
        "client audited": "SELECT resource_id FROM audit_events WHERE action = 'create_client' "
        "AND resource_type = 'client' AND outcome = 'success' AND status_code = 201",
        "session audited": "SELECT resource_id FROM audit_events "
        "WHERE action = 'create_preparation_session' AND resource_type = 'session' "
        "AND outcome = 'success' AND status_code = 201",
        "client queued": "SELECT e.data->>'client_id' FROM webhook_events e "
        "JOIN webhook_deliveries d ON d.event_id = e.id WHERE e.type = 'client.created'",
        "session queued": "SELECT e.data->>'session_id' FROM webhook_events e "
        "JOIN webhook_deliveries d ON d.event_id = e.id WHERE e.type = 'session.scheduled'",
    }
    return {
        name: {row[0] for row in await fetch(database_url, query)}
        for name, query in queries.items()
    }


def assert_nothing_half_written(stored: dict[str, set[str]]) -> None:
    for kind in ("client", "session"):
        assert stored[f"{kind} audited"] == stored[kind], f"{kind}s and audit rows differ"
        assert stored[f"{kind} queued"] == stored[kind], f"{kind}s and outbox rows differ"


async def test_acknowledged_writes_survive_a_sigkill_and_retries_settle_the_rest(
    fleet: Fleet, database_url: str
) -> None:
    admin = await bootstrap_admin(database_url)
    [api] = fleet.serve("--no-worker")
    # --no-worker: nothing is sent (nobody listens there anyway); the outbox rows are checked.
    await subscribe(
        api, admin, f"http://127.0.0.1:{free_port()}/hooks", "client.created", "session.scheduled"
    )

    load = await kill_under_load(api, admin, fleet)
    assert load.cut_off >= 1, "the kill did not land mid-request"
    acknowledged = load.acknowledged

    [api] = fleet.serve("--no-worker")  # the same database, a new process
    for write, found in zip(acknowledged, await read_back(api, admin, acknowledged), strict=True):
        assert matches(write, found), (write, found)
    stored = await stored_ids(database_url)
    for write in acknowledged:
        assert write.resource is not None
        assert write.resource["id"] in stored[write.kind]
    assert_nothing_half_written(stored)

    # The unanswered requests, retried as a client would: each lands exactly once.
    async with httpx.AsyncClient(base_url=api.url, timeout=TIMEOUT) as http:
        for write in load.unanswered:
            response = await write.send(http, admin)
            assert response.status_code == 201, (write, response.status_code, response.text)
            write.resource = response.json()
    stored = await stored_ids(database_url)
    assert_nothing_half_written(stored)
    for kind in ("client", "session"):
        sent = [write for write in load.writes if write.kind == kind]
        assert stored[kind] == {write.resource["id"] for write in sent if write.resource}
        assert len(stored[kind]) == len(sent), f"a retried {kind} write was applied twice"
