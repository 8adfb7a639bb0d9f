"""Two API processes and two worker processes on one PostgreSQL database, healthy: every event
the APIs queued reaches a real receiver on loopback exactly once, whichever API took the write
and whichever worker sent it. A retry with the same Idempotency-Key on the other API replays the
write and queues nothing more.

tests/webhooks/test_processes.py shows that two workers share a burst; here the writes come
through two APIs at once as well.
"""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.support import (
    Admin,
    Api,
    Fleet,
    bootstrap_admin,
    eventually,
    fetch,
    subscribe,
)
from tests.webhooks.support import Receiver

WRITERS = 4  # each sends through one API and replays through the other
ROUNDS = 12  # a client and a session per round: 2 x 4 x 12 = 96 events
T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
TIMEOUT = httpx.Timeout(15.0)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    made = Receiver(tmp_path)
    yield made
    made.stop()


async def write_twice(
    first: httpx.AsyncClient, second: httpx.AsyncClient, path: str, body: dict[str, Any], key: str
) -> str:
    """POST through one API, then the same request again through the other: one resource."""
    sent = [
        await http.post(path, json=body, headers={"Idempotency-Key": key})
        for http in (first, second)
    ]
    assert [response.status_code for response in sent] == [201, 201], sent[-1].text
    assert sent[1].headers.get("idempotent-replayed") == "true"
    assert sent[1].json() == sent[0].json()
    made: str = sent[0].json()["id"]
    return made


async def writer(apis: list[Api], admin: Admin, number: int) -> list[str]:
    """ROUNDS clients, each with a preparation session; the ids it was given."""
    made = []
    urls = [apis[number % 2].url, apis[(number + 1) % 2].url]
    async with (
        httpx.AsyncClient(base_url=urls[0], timeout=TIMEOUT, headers=admin.headers) as first,
        httpx.AsyncClient(base_url=urls[1], timeout=TIMEOUT, headers=admin.headers) as second,
    ):
        for round_ in range(ROUNDS):
            person = {
                "first_name": f"R{number}",
                "last_name": f"N{round_}",
                "date_of_birth": "1991-09-09",
            }
            client_id = await write_twice(
                first, second, "/api/v1/clients", person, f"c-{number}-{round_}"
            )
            at = T0 + timedelta(days=round_)
            booking = {
                "client_id": client_id,
                "starts_at": at.isoformat(),
                "ends_at": (at + timedelta(hours=1)).isoformat(),
            }
            session_id = await write_twice(
                first, second, "/api/v1/preparation-sessions", booking, f"s-{number}-{round_}"
            )
            made += [client_id, session_id]
    return made


async def test_two_apis_and_two_workers_deliver_every_event_exactly_once(
    fleet: Fleet, database_url: str, receiver: Receiver
) -> None:
    admin = await bootstrap_admin(database_url)
    workers = [fleet.worker(), fleet.worker()]  # they boot while the APIs do
    apis = fleet.serve("--no-worker", replicas=2)
    endpoint = await subscribe(apis[0], admin, receiver.url, "client.created", "session.scheduled")
    receiver.start([endpoint["secret"]])

    made = await asyncio.gather(*(writer(apis, admin, number) for number in range(WRITERS)))
    resource_ids = {resource_id for ids in made for resource_id in ids}
    assert len(resource_ids) == 2 * WRITERS * ROUNDS

    events = {
        str(row["id"]): row["resource_id"]
        for row in await fetch(
            database_url,
            "SELECT id, coalesce(data->>'session_id', data->>'client_id') AS resource_id "
            "FROM webhook_events",
        )
    }
    assert sorted(events.values()) == sorted(resource_ids), "a write queued no event, or two"

    async def all_succeeded() -> bool:
        rows = await fetch(database_url, "SELECT status FROM webhook_deliveries")
        return len(rows) == len(events) and all(row["status"] == "succeeded" for row in rows)

    await eventually(all_succeeded, f"{len(events)} deliveries", timeout_s=60, fleet=fleet)
    seen = receiver.received()
    webhook_ids = [request["webhook_id"] for request in seen]
    assert len(webhook_ids) == len(set(webhook_ids)), "an event was delivered twice"
    assert set(webhook_ids) == set(events), "an event was not delivered"
    assert all(request["verified_with"] == [0] for request in seen)
    attempts = await fetch(database_url, "SELECT delivery_id, status_code FROM webhook_attempts")
    assert sorted(row["status_code"] for row in attempts) == [200] * len(events)
    assert len({row["delivery_id"] for row in attempts}) == len(events)
    assert all(process.poll() is None for process in [*workers, *(api.process for api in apis)])
