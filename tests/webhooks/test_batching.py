"""What a batch of deliveries costs, counted rather than timed, so CI can guard it: the SQL
statements of one `run_once` do not grow with the batch (claims, attempts and outcomes are
written in bulk), and connections to a receiver are kept alive from one batch to the next.

The receiver here (tests/webhooks/keepalive.py) keeps connections open and counts them."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from app.db import begin_write
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from app.webhooks.ssrf import AllowedHosts
from tests.support.factories import Clinic, FakeClock
from tests.support.statements import StatementCounter
from tests.webhooks.keepalive import KeepAliveReceiver
from tests.webhooks.support import make_endpoint


@pytest.fixture
async def receiver(app: FastAPI, clinic: Clinic) -> AsyncIterator[KeepAliveReceiver]:
    """A started receiver; other tests' pending deliveries are set aside first, since the
    dispatcher serves every clinic of the shared test database."""
    async with app.state.sessionmaker() as db:
        await begin_write(db)
        await db.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.status == DeliveryStatus.pending.value,
                WebhookDelivery.clinic_id != uuid.UUID(clinic.id),
            )
            .values(status=DeliveryStatus.failed.value, last_error="set aside by a test")
        )
        await db.commit()
    made = KeepAliveReceiver()
    await made.start()
    yield made
    await made.stop()


@pytest.fixture
def real_time(clock: FakeClock) -> FakeClock:
    clock.set(datetime.now(UTC).replace(microsecond=0))
    return clock


def dispatcher(app: FastAPI, clock: FakeClock, batch: int = 50) -> Dispatcher:
    allowed = AllowedHosts.parse(["127.0.0.1"])
    return Dispatcher(app.state.sessionmaker, app.state.secret_box, allowed, clock, batch=batch)


async def statements_for_batch(
    clinic: Clinic, worker: Dispatcher, sql_statements: StatementCounter, size: int
) -> int:
    """Queue `size` events, deliver them in one run, and count the run's statements."""
    for _ in range(size):
        await clinic.client()
    before = sql_statements.count
    assert await worker.run_once() == size
    return sql_statements.count - before


@pytest.mark.parametrize("status", [200, 500])
async def test_a_batch_costs_the_same_statements_whatever_its_size(
    clinic: Clinic,
    app: FastAPI,
    real_time: FakeClock,
    receiver: KeepAliveReceiver,
    sql_statements: StatementCounter,
    status: int,
) -> None:
    receiver.status = status
    endpoint = await make_endpoint(clinic, receiver.url)
    receiver.secret = endpoint["secret"]
    worker = dispatcher(app, real_time)
    # The first failure starts the endpoint's failure streak, one statement more, once.
    await statements_for_batch(clinic, worker, sql_statements, 1)
    small = await statements_for_batch(clinic, worker, sql_statements, 2)
    large = await statements_for_batch(clinic, worker, sql_statements, 20)
    await worker.close()
    # Claim: lease + read what to send (+ BEGIN/COMMIT). Record: re-read under lock, attempts,
    # outcomes, the endpoints' streak (+ the failing endpoints locked, on failure).
    assert small == large, (small, large)
    assert large <= 12, large
    assert len(receiver.requests) == 23
    assert all(verified for _, verified in receiver.requests)
    async with app.state.sessionmaker() as db:
        ours = uuid.UUID(clinic.id)
        attempts = await db.scalars(
            select(WebhookAttempt.status_code).where(WebhookAttempt.clinic_id == ours)
        )
        states = await db.scalars(
            select(WebhookDelivery.status).where(WebhookDelivery.clinic_id == ours)
        )
    attempts, states = attempts.all(), states.all()
    assert sorted(attempts) == [status] * 23
    expected = "succeeded" if status == 200 else "pending"  # a 500 is retried later
    assert states.count(expected) == 23


async def test_connections_are_kept_alive_across_batches(
    clinic: Clinic, app: FastAPI, real_time: FakeClock, receiver: KeepAliveReceiver
) -> None:
    endpoint = await make_endpoint(clinic, receiver.url)
    receiver.secret = endpoint["secret"]
    worker = dispatcher(app, real_time, batch=5)
    for _ in range(3):
        for _ in range(5):
            await clinic.client()
        assert await worker.run_once() == 5
    await worker.close()
    assert len(receiver.requests) == 15
    assert len({webhook_id for webhook_id, _ in receiver.requests}) == 15
    # Five at once need five connections; the later batches reuse them.
    assert receiver.connections == 5
