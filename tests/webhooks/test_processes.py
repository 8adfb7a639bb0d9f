"""Webhook delivery with real processes: `kap-journey worker` subprocesses, a receiver process on
loopback that verifies every signature with the reference standardwebhooks library, PostgreSQL.

The API runs in-process (ASGI) on the real clock; each test gets its own scratch database, so the
workers see only that test's outbox. Every process started here is killed in teardown.
"""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.config import Settings
from app.main import create_app
from app.webhooks.models import WebhookAttempt, WebhookDelivery
from tests import databases
from tests.factories import Clinic, FakeClock, bootstrap
from tests.webhooks.support import Receiver, make_endpoint

WORKER = [sys.executable, "-c", "from app.cli import main; main()", "worker"]
SECRET_KEY = "process-tests-secret-key"
LEASE_S = 2
WAIT_S = 30.0
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]], what: str, workers: "Workers | None" = None
) -> T:
    """Poll `check` until it returns something truthy; fail after WAIT_S (with worker logs)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = f"\n{workers.logs()}" if workers is not None else ""
            raise AssertionError(f"gave up after {WAIT_S:.0f} s waiting for {what}{logs}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A migrated PostgreSQL database of this test's own (workers serve the whole outbox)."""
    async with databases.scratch_postgres() as url:
        yield url


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr(SECRET_KEY),
        webhook_allowed_hosts=["127.0.0.1"],
        rate_limit_per_minute=0,  # test c creates events as fast as it can
    )
    application = create_app(settings)  # the system clock: receivers check timestamps
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def clinic(app: FastAPI) -> AsyncIterator[Clinic]:
    clock = FakeClock()
    clock.set(datetime.now(UTC))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
        yield await bootstrap(app, http, clock)


class Workers:
    """`kap-journey worker` processes; their stderr goes to files kept for failure messages."""

    def __init__(self, folder: Path, database_url: str) -> None:
        self.folder = folder
        self.database_url = database_url
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, database_url: str | None = None) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "KAP_DATABASE_URL": database_url or self.database_url,
            "KAP_SECRET_KEY": SECRET_KEY,
            "KAP_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "KAP_WEBHOOK_LEASE_SECONDS": str(LEASE_S),
        }
        log = self.folder / f"worker-{len(self.processes)}.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                WORKER, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
            )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-2000:]}"
            for path in sorted(self.folder.glob("worker-*.log"))
        )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def workers(tmp_path: Path, database_url: str) -> Iterator[Workers]:
    made = Workers(tmp_path, database_url)
    yield made
    made.stop_all()


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
