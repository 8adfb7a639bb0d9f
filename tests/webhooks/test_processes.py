"""Webhook delivery with real processes: `kap-journey worker` subprocesses, a receiver process on
loopback that verifies every signature with the reference standardwebhooks library, PostgreSQL.

The API runs in-process (ASGI) on the real clock; each test gets its own scratch database, so the
workers see only that test's outbox. Every process started here is killed in teardown.
"""

import asyncio
import secrets
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.support.factories import Clinic
from tests.support.worker_processes import (  # noqa: F401 - fixtures used by name
    LEASE_S,
    SECRET_KEY,
    WAIT_S,
    Workers,
    app,
    clinic,
    database_url,
    eventually,
    workers,
)
from tests.webhooks.support import Receiver, make_endpoint


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Callable[[], Receiver]]:
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver(tmp_path))
        return made[-1]

    yield make
    for receiver in made:
        receiver.stop()


async def the_delivery(app: FastAPI, event_id: str | None = None) -> WebhookDelivery | None:
    """The test's single delivery (or the one for `event_id`), read fresh."""
    async with app.state.sessionmaker() as db:
        stmt = select(WebhookDelivery)
        if event_id is not None:
            stmt = stmt.where(WebhookDelivery.event_id == uuid.UUID(event_id))
        delivery: WebhookDelivery | None = (await db.execute(stmt)).scalar_one_or_none()
        return delivery


async def attempts_of(app: FastAPI, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    async with app.state.sessionmaker() as db:
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.attempted_at)
        )
        return list((await db.execute(stmt)).scalars().all())


def for_event(receiver: Receiver, event_id: str) -> list[dict[str, Any]]:
    return [r for r in receiver.received() if r["webhook_id"] == event_id]


async def test_a_worker_killed_mid_delivery_is_replaced_and_the_same_id_is_sent_again(
    app: FastAPI, clinic: Clinic, workers: Workers, receivers: Callable[[], Receiver]
) -> None:
    hook = receivers()
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]], "--delay=3")  # logs the request, then stalls 3 s
    doomed = workers.start()
    await clinic.client()

    [first] = await eventually(
        lambda: asyncio.to_thread(hook.received), "the first worker's request to arrive"
    )
    doomed.send_signal(signal.SIGKILL)  # in flight: the receiver has not answered yet
    assert doomed.wait(timeout=10) == -signal.SIGKILL
    event_id = first["webhook_id"]
    assert first["verified_with"] == [0]

    # Nothing was recorded for the killed attempt: still pending, leased, no attempt row.
    orphan = await the_delivery(app, event_id)
    assert orphan is not None
    assert (orphan.status, orphan.attempt_count) == ("pending", 0)
    assert orphan.lease_expires_at is not None
    assert await attempts_of(app, orphan.id) == []

    # The replacement sends it again once the 2 s lease has run out. The receiver comes back
    # without the stall, so the resend is answered well within the lease. (Were it slower than
    # the lease, a second live worker would claim and send it a third time while in flight.)
    hook.stop()
    hook.start([endpoint["secret"]])
    workers.start()

    async def succeeded() -> WebhookDelivery | None:
        delivery = await the_delivery(app, event_id)
        return delivery if delivery is not None and delivery.status == "succeeded" else None

    done = await eventually(succeeded, "the resend to succeed", workers)
    seen = for_event(hook, event_id)
    assert len(seen) == 2, seen  # at least once: the same webhook-id, twice
    assert all(r["verified_with"] == [0] for r in seen)
    assert seen[0]["body"] == seen[1]["body"]
    assert seen[1]["received_at"] - seen[0]["received_at"] >= LEASE_S - 0.5
    assert done.attempt_count == 1  # only the attempt that finished is on record
    [attempt] = await attempts_of(app, done.id)
    assert attempt.status_code == 200


async def test_b_a_receiver_that_was_down_gets_the_retry(
    app: FastAPI, clinic: Clinic, workers: Workers, receivers: Callable[[], Receiver]
) -> None:
    hook = receivers()  # not started: its port refuses connections
    endpoint = await make_endpoint(clinic, hook.url)
    workers.start()
    await clinic.client()

    async def refused() -> WebhookDelivery | None:
        delivery = await the_delivery(app)
        return delivery if delivery is not None and delivery.attempt_count >= 1 else None

    failed = await eventually(refused, "the first attempt", workers)
    assert failed.status == "pending"
    assert failed.last_error == "connection refused"
    assert hook.received() == []
    hook.start([endpoint["secret"]])

    async def succeeded() -> WebhookDelivery | None:
        delivery = await the_delivery(app)
        return delivery if delivery is not None and delivery.status == "succeeded" else None

    done = await eventually(succeeded, "the retry to succeed", workers)
    assert done.attempt_count == 2
    [seen] = hook.received()
    assert seen["webhook_id"] == str(done.event_id)
    assert seen["verified_with"] == [0]
    first, second = await attempts_of(app, done.id)
    assert (first.error, second.status_code) == ("connection refused", 200)
    # The first retry is due 5 s (±20 %) after the failure, and the worker polls every 0.2 s.
    gap = second.attempted_at - first.attempted_at
    assert timedelta(seconds=4) <= gap <= timedelta(seconds=8), gap


@dataclass(frozen=True)
class WorkerRoles:
    """A PostgreSQL login per worker, so a trigger can record which worker wrote each attempt."""

    names: tuple[str, str]

    def url(self, database_url: str, index: int) -> str:
        return make_url(database_url).set(username=self.names[index]).render_as_string(False)


@pytest.fixture
async def worker_roles(database_url: str, workers: Workers) -> AsyncIterator[WorkerRoles | None]:
    """Two roles that act with the admin's rights, and an attempt-origin trigger; None (and no
    attribution) when the test server does not let us create roles."""
    url = make_url(database_url)
    admin = url.username or "postgres"
    suffix = secrets.token_hex(4)
    roles = WorkerRoles((f"kap_worker_a_{suffix}", f"kap_worker_b_{suffix}"))
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    try:
        try:
            for name in roles.names:
                await connection.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE "{admin}"')
        except asyncpg.InsufficientPrivilegeError:
            yield None
            return
        await connection.execute(
            """
            CREATE TABLE attempt_origin (delivery_id uuid, status_code int, worker text);
            CREATE FUNCTION note_attempt_origin() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO attempt_origin VALUES (NEW.delivery_id, NEW.status_code, session_user);
                RETURN NEW;
            END $$;
            CREATE TRIGGER attempt_origin AFTER INSERT ON webhook_attempts
                FOR EACH ROW EXECUTE FUNCTION note_attempt_origin();
            """
        )
        yield roles
    finally:
        workers.stop_all()  # before their roles go
        for name in roles.names:
            await connection.execute(f'DROP ROLE IF EXISTS "{name}"')
        await connection.close()


async def test_c_two_workers_deliver_a_burst_exactly_once(
    app: FastAPI,
    clinic: Clinic,
    workers: Workers,
    receivers: Callable[[], Receiver],
    worker_roles: WorkerRoles | None,
    database_url: str,
) -> None:
    count = 200
    hook = receivers()
    endpoint = await make_endpoint(clinic, hook.url)
    hook.start([endpoint["secret"]])
    for index in range(2):
        workers.start(worker_roles.url(database_url, index) if worker_roles else None)
    if worker_roles is not None:  # both connected, so both can take a share from the start

        async def both_polling() -> bool:
            async with app.state.engine.connect() as connection:
                users = await connection.exec_driver_sql(
                    "SELECT usename FROM pg_stat_activity WHERE datname = current_database()"
                )
                return set(worker_roles.names) <= {row[0] for row in users}

        await eventually(both_polling, "both workers to connect", workers)

    made = [await clinic.client(first_name=f"Client{index}") for index in range(count)]
    assert len(made) == count

    async def all_done() -> list[WebhookDelivery] | None:
        async with app.state.sessionmaker() as db:
            rows = list((await db.execute(select(WebhookDelivery))).scalars().all())
        return rows if len(rows) == count and all(d.status == "succeeded" for d in rows) else None

    done = await eventually(all_done, f"{count} deliveries to succeed", workers)
    seen = hook.received()
    ids = [r["webhook_id"] for r in seen]
    assert len(ids) == len(set(ids)) == count, "a webhook-id arrived more than once"
    assert set(ids) == {str(d.event_id) for d in done}
    assert all(r["verified_with"] == [0] for r in seen)
    # One 200 per delivery. Any other attempt got no response at all: the test receiver's listen
    # backlog is socketserver's 5, and a burst can overflow it (a reset connection, retried 5 s
    # later), which the receiver's log above shows never reached it.
    async with app.state.sessionmaker() as db:
        attempts = list((await db.execute(select(WebhookAttempt))).scalars().all())
    assert sorted(str(a.delivery_id) for a in attempts if a.status_code == 200) == sorted(
        str(d.id) for d in done
    )
    assert {(a.status_code, a.error) for a in attempts if a.status_code != 200} <= {
        (None, "connection reset"),
        (None, "connection refused"),
    }
    if worker_roles is not None:
        async with app.state.engine.connect() as connection:
            shares = dict(
                (
                    await connection.exec_driver_sql(
                        "SELECT worker, count(*) FROM attempt_origin WHERE status_code = 200 "
                        "GROUP BY worker"
                    )
                ).all()
            )
        assert sum(shares.values()) == count
        assert set(shares) == set(worker_roles.names), f"one worker did everything: {shares}"
