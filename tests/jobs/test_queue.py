"""The job queue on each database: claims, leases that run out, retry schedules and giving up,
on a table of the tests' own that uses the same job columns as the delivery tables."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData, String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.db import begin_write
from app.jobs.metrics import JobMetrics
from app.jobs.models import FAILED, PENDING, LeasedJob
from app.jobs.queue import JobQueue, LeasedJobQueue
from app.jobs.schedule import Doubling, Steps

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
THREE_TRIES = Steps((timedelta(0), timedelta(seconds=10), timedelta(minutes=5)))


class Base(DeclarativeBase):
    metadata = MetaData()


class Chore(LeasedJob, Base):
    __tablename__ = "test_queue_chores"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    batch: Mapped[str] = mapped_column(String(40))
    rank: Mapped[int] = mapped_column(default=0)


@pytest.fixture
async def sessions(app: FastAPI) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = app.state.engine
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield app.state.sessionmaker
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def count(registry: CollectorRegistry, what: str) -> float:
    return registry.get_sample_value(f"kap_jobs_{what}_total", {"queue": "chores"}) or 0.0


async def add_chores(
    sessions: async_sessionmaker[AsyncSession], *due: datetime, status: str = PENDING
) -> list[uuid.UUID]:
    chores = [
        Chore(batch="b", rank=rank, next_attempt_at=at, status=status)
        for rank, at in enumerate(due)
    ]
    async with sessions() as db:
        await begin_write(db)
        db.add_all(chores)
        await db.commit()
    return [chore.id for chore in chores]


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    queue: JobQueue[Chore],
    now: datetime,
    limit: int = 10,
) -> list[uuid.UUID]:
    """Claim in a transaction of its own and commit: the ids claimed."""
    async with sessions() as db:
        await begin_write(db)
        chores = await queue.claim(db, now, limit)
        await db.commit()
    return [chore.id for chore in chores]


def leased(
    registry: CollectorRegistry, schedule: Steps | Doubling = THREE_TRIES
) -> LeasedJobQueue[Chore]:
    return LeasedJobQueue(
        "chores",
        Chore,
        schedule,
        JobMetrics(registry),
        lease=LEASE,
        order_by=[Chore.rank],
        longest_wait=timedelta(hours=1),
    )


async def test_a_claim_takes_due_pending_jobs_in_order_up_to_the_limit(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry
) -> None:
    queue = leased(registry)
    due = await add_chores(sessions, T0 - timedelta(seconds=1), T0, T0 - timedelta(hours=1))
    await add_chores(sessions, T0 + timedelta(seconds=1))  # not due yet
    await add_chores(sessions, T0 - timedelta(hours=2), status=FAILED)  # left the queue
    assert await claim(sessions, queue, T0, limit=2) == due[:2]
    assert await claim(sessions, queue, T0) == due[2:]  # the first two are leased
    assert await claim(sessions, queue, T0) == []
    assert count(registry, "claimed") == 3


async def test_a_lease_that_runs_out_makes_the_job_claimable_again(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry
) -> None:
    queue = leased(registry)
    [chore_id] = await add_chores(sessions, T0)
    assert await claim(sessions, queue, T0) == [chore_id]
    assert await claim(sessions, queue, T0 + LEASE - timedelta(seconds=1)) == []
    assert await claim(sessions, queue, T0 + LEASE) == [chore_id]
    async with sessions() as db:
        await begin_write(db)
        chore = await queue.again(db, chore_id)
        assert chore is not None
        # The first worker's lease is gone: it may record its attempt, not decide the outcome.
        assert not queue.holds(chore, T0 + LEASE)
        assert queue.holds(chore, T0 + 2 * LEASE)


async def test_two_claimers_never_share_a_job(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry
) -> None:
    queue = leased(registry)
    ids = await add_chores(sessions, T0, T0)
    async with sessions() as first:
        await begin_write(first)
        [held] = await queue.claim(first, T0, 1)
        # PostgreSQL: the second claimer skips the locked row at once. SQLite: it waits for the
        # first write transaction to end (BEGIN IMMEDIATE), and then the job is leased.
        second = asyncio.create_task(claim(sessions, queue, T0))
        await asyncio.sleep(0.2)
        await first.commit()
    other = await second
    assert sorted([held.id, *other]) == sorted(ids)


async def test_postgresql_skips_a_job_held_by_a_transaction_instead_of_waiting(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises write transactions: there is no row lock to skip")
    queue: JobQueue[Chore] = JobQueue("chores", Chore, THREE_TRIES, JobMetrics(registry))
    ids = await add_chores(sessions, T0, T0)
    async with sessions() as first:
        await begin_write(first)
        [held] = await queue.claim(first, T0, 1)
        other = await asyncio.wait_for(claim(sessions, queue, T0), timeout=5)
        assert other == [i for i in ids if i != held.id]
        await first.rollback()  # a worker that dies: the job is pending and due again
    assert sorted(await claim(sessions, queue, T0)) == sorted(ids)


async def test_failures_retry_by_the_schedule_then_give_up(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry
) -> None:
    queue = leased(registry)
    [chore_id] = await add_chores(sessions, T0)
    now = T0
    waits = []
    for _ in range(3):
        assert await claim(sessions, queue, now) == [chore_id]
        async with sessions() as db:
            await begin_write(db)
            chore = await queue.again(db, chore_id)
            assert chore is not None
            queue.attempted(chore, "boom")
            retried = queue.retry(chore, now)
            await db.commit()
        waits.append(chore.next_attempt_at - now if retried else None)
        now = chore.next_attempt_at
    assert waits == [timedelta(seconds=10), timedelta(minutes=5), None]
    assert chore is not None
    assert (chore.status, chore.attempt_count, chore.last_error) == (FAILED, 3, "boom")
    assert chore.lease_expires_at is None
    assert await claim(sessions, queue, now + timedelta(days=365)) == []
    assert (count(registry, "retried"), count(registry, "given_up")) == (2, 1)


async def test_a_wait_the_job_asks_for_is_honoured_up_to_the_longest_wait(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry
) -> None:
    queue = leased(registry)
    ids = await add_chores(sessions, T0, T0, T0)
    await claim(sessions, queue, T0)
    asked = [None, timedelta(minutes=2), timedelta(days=2)]
    waits = []
    async with sessions() as db:
        await begin_write(db)
        for chore_id, wait in zip(ids, asked, strict=True):
            chore = await queue.again(db, chore_id)
            assert chore is not None
            queue.attempted(chore, "busy")
            assert queue.retry(chore, T0, wait_at_least=wait)
            waits.append(chore.next_attempt_at - T0)
        await db.commit()
    # The schedule's 10 s, a Retry-After of 2 min, and one of 2 days cut to the hour.
    assert waits == [timedelta(seconds=10), timedelta(minutes=2), timedelta(hours=1)]


async def test_success_and_deferral_leave_or_keep_the_job_in_the_queue(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry
) -> None:
    queue = leased(registry)
    done_id, later_id = await add_chores(sessions, T0, T0)
    await claim(sessions, queue, T0)
    async with sessions() as db:
        await begin_write(db)
        done, later = await queue.again(db, done_id), await queue.again(db, later_id)
        assert done is not None
        assert later is not None
        for chore in (done, later):
            queue.attempted(chore, None)
        queue.succeeded(done, "finished")
        queue.defer(later, T0 + timedelta(minutes=10))
        await db.commit()
    assert (done.status, done.attempt_count, done.lease_expires_at) == ("finished", 1, None)
    assert await claim(sessions, queue, T0 + timedelta(minutes=9)) == []
    assert await claim(sessions, queue, T0 + timedelta(minutes=10)) == [later_id]
    assert (count(registry, "succeeded"), count(registry, "retried")) == (1, 1)


def documented_webhook_delays() -> list[timedelta]:
    text = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    [row] = [line for line in text.splitlines() if line.startswith("| Delay |")]
    units = {"s": "seconds", "min": "minutes", "h": "hours"}
    delays = []
    for cell in row.strip("|").split("|")[1:]:
        amount, _, unit = cell.strip().partition(" ")
        delays.append(
            timedelta(0) if amount == "immediately" else timedelta(**{units[unit]: int(amount)})
        )
    return delays


def test_the_delivery_schedules_are_the_documented_ones() -> None:
    from app.inbound.processor import RETRIES
    from app.webhooks.dispatcher import delivery_queue

    webhooks = delivery_queue(JobMetrics()).schedule
    assert isinstance(webhooks, Steps)
    assert webhooks.jitter == 0.2
    plain = Steps(webhooks.delays)  # without the jitter
    # docs/webhooks.md, "Retry schedule": the delay before each of the ten attempts.
    assert [plain.delay(n) for n in range(10)] == documented_webhook_delays()
    assert plain.delay(10) is None
    for attempts in range(1, 10):
        delay = webhooks.delay(attempts)
        expected = plain.delay(attempts)
        assert delay is not None
        assert expected is not None
        assert 0.8 * expected <= delay <= 1.2 * expected
    # Inbound bookings: 5 s doubling up to an hour, for as long as it takes.
    assert [RETRIES.delay(n).total_seconds() for n in (1, 2, 3, 10, 11, 500)] == [
        5,
        10,
        20,
        2560,
        3600,
        3600,
    ]


async def lease_batch(
    sessions: async_sessionmaker[AsyncSession],
    queue: LeasedJobQueue[Chore],
    now: datetime,
    limit: int = 10,
) -> set[uuid.UUID]:
    async with sessions() as db:
        await begin_write(db)
        ids = await queue.lease_batch(db, now, limit)
        await db.commit()
    return set(ids)


async def test_a_batch_lease_takes_due_pending_jobs_in_order_and_leases_them(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry
) -> None:
    queue = leased(registry)
    due = await add_chores(sessions, T0 - timedelta(hours=1), T0, T0 - timedelta(seconds=1))
    await add_chores(sessions, T0 + 2 * LEASE)  # not due yet
    await add_chores(sessions, T0 - timedelta(hours=2), status=FAILED)  # left the queue
    assert await lease_batch(sessions, queue, T0, limit=2) == set(due[:2])  # by rank
    assert await lease_batch(sessions, queue, T0) == {due[2]}
    assert await lease_batch(sessions, queue, T0 + LEASE - timedelta(seconds=1)) == set()
    assert count(registry, "claimed") == 3
    # The lease is written, as a claim writes it, and runs out as a claim's does.
    async with sessions() as db:
        await begin_write(db)
        chore = await queue.again(db, due[0])
        assert chore is not None
        assert queue.holds(chore, T0 + LEASE)
    assert await lease_batch(sessions, queue, T0 + LEASE) == set(due)


async def test_postgresql_batch_leases_skip_what_another_transaction_holds(
    sessions: async_sessionmaker[AsyncSession], registry: CollectorRegistry, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises write transactions: there is no row lock to skip")
    queue = leased(registry)
    ids = await add_chores(sessions, T0, T0, T0)
    async with sessions() as first:
        await begin_write(first)
        held = set(await queue.lease_batch(first, T0, 2))
        other = await asyncio.wait_for(lease_batch(sessions, queue, T0), timeout=5)
        await first.commit()
    assert len(held) == 2
    assert other == set(ids) - held
