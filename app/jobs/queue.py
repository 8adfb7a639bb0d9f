"""One durable job queue over a job table: claim, lease, retry by schedule, give up, metrics.

A job is a row (app/jobs/models.py): `pending` until done, due at `next_attempt_at`, with its
attempts counted. Any number of workers share a queue through the database, never through each
other: claims skip what another worker holds (app/jobs/repository.py), so each due job goes to
one of them.

Two ways to hold a job:

- `JobQueue`: the claiming transaction does the work. The row lock is the lease: a worker that
  dies rolls back, and the job is pending and due again. (Inbound bookings.)
- `LeasedJobQueue`: the work runs outside the claim (an HTTP request in flight holds no lock), so
  a claim leases the job until `now + lease`. A worker that dies leaves the lease to run out, and
  the job is claimed again; a worker whose lease ran out records what it did but decides nothing
  (`holds`). (Outbound webhook deliveries: at least once.)

What a job's outcome means to its domain (a delivery `succeeded`, a booking `applied` or
`unmatched`, the time it completed) is the domain's to write; the queue keeps the bookkeeping.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs import repository
from app.jobs.metrics import JobMetrics
from app.jobs.models import FAILED, Job, LeasedJob
from app.jobs.schedule import RetrySchedule

J = TypeVar("J", bound=Job)
L = TypeVar("L", bound=LeasedJob)


class JobQueue(Generic[J]):
    """Jobs of one table, held by the transaction that claimed them."""

    def __init__(
        self,
        name: str,
        model: type[J],
        schedule: RetrySchedule,
        metrics: JobMetrics,
        *,
        order_by: Sequence[Any] = (),
        longest_wait: timedelta | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.schedule = schedule
        self.metrics = metrics
        self.order_by = tuple(order_by) or (model.next_attempt_at,)
        # The longest wait a job may ask for (a receiver's Retry-After); None: no bound.
        self.longest_wait = longest_wait
        metrics.declare(name)

    def _conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        return []

    async def claim(
        self,
        db: AsyncSession,
        now: datetime,
        limit: int,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> Sequence[J]:
        """Up to `limit` jobs due at `now` (and meeting `where`), in the queue's order, held
        for this transaction, which must be a write transaction."""
        jobs = await repository.due_jobs(
            db, self.model, now, limit, [*self._conditions(now), *where], self.order_by
        )
        for job in jobs:
            self._hold(job, now)
        if jobs:
            self.metrics.claims.labels(self.name).inc(len(jobs))
        return jobs

    def _hold(self, job: J, now: datetime) -> None:
        """Hold a claimed job beyond its row lock: nothing here, the transaction holds it."""

    async def again(self, db: AsyncSession, job_id: uuid.UUID) -> J | None:
        """A job read afresh and held, to record an attempt's outcome in a new transaction."""
        return await repository.job_for_update(db, self.model, job_id)

    def attempted(self, job: J, error: str | None) -> None:
        """An attempt ended: count it, with its error (None when it went well)."""
        job.attempt_count += 1
        job.last_error = error

    def succeeded(self, job: J, status: str) -> None:
        """The job is done and leaves the queue with the domain's `status`."""
        job.status = status
        self.metrics.successes.labels(self.name).inc()

    def defer(self, job: J, until: datetime) -> None:
        """The job asked to be tried again at `until`: not a failure, so not by the schedule."""
        job.next_attempt_at = until
        self.metrics.retries.labels(self.name).inc()

    def retry(self, job: J, now: datetime, *, wait_at_least: timedelta | None = None) -> bool:
        """After a failed attempt: due again by the schedule (waiting at least what the job
        asked for, up to `longest_wait`), or given up when the schedule is spent. True when it
        will be tried again."""
        delay = self.schedule.delay(job.attempt_count)
        if delay is None:
            self.give_up(job)
            return False
        if wait_at_least is not None:
            delay = max(delay, wait_at_least)
            if self.longest_wait is not None:
                delay = min(delay, self.longest_wait)
        job.next_attempt_at = now + delay
        self.metrics.retries.labels(self.name).inc()
        return True

    def give_up(self, job: J, reason: str | None = None) -> None:
        """The job leaves the queue `failed`; `reason`, if given, is its last error."""
        job.status = FAILED
        if reason is not None:
            job.last_error = reason
        self.metrics.give_ups.labels(self.name).inc()


class LeasedJobQueue(JobQueue[L]):
    """Jobs of one table leased to the worker that claimed them, for `lease`."""

    def __init__(
        self,
        name: str,
        model: type[L],
        schedule: RetrySchedule,
        metrics: JobMetrics,
        *,
        lease: timedelta,
        order_by: Sequence[Any] = (),
        longest_wait: timedelta | None = None,
    ) -> None:
        super().__init__(
            name, model, schedule, metrics, order_by=order_by, longest_wait=longest_wait
        )
        self.lease = lease

    def _conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        expires = self.model.lease_expires_at
        return [or_(expires.is_(None), expires <= now)]

    def _hold(self, job: L, now: datetime) -> None:
        """Lease it until `now + lease`: the claim commits, then the work begins."""
        job.lease_expires_at = now + self.lease

    async def lease_batch(self, db: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
        """Up to `limit` due jobs leased until `now + lease` in one statement, no entity loaded;
        their ids. For a batch whose outcomes are written back in bulk (see `holds`)."""
        ids = await repository.lease_due(
            db, self.model, now, limit, self._conditions(now), self.order_by, now + self.lease
        )
        if ids:
            self.metrics.claims.labels(self.name).inc(len(ids))
        return ids

    def holds(self, job: L, lease_expires_at: datetime) -> bool:
        """Whether the lease taken at claim time is still this job's: else it ran out and
        another worker owns the job now, whose outcome is that worker's to decide."""
        return job.lease_expires_at == lease_expires_at

    def attempted(self, job: L, error: str | None) -> None:
        super().attempted(job, error)
        job.lease_expires_at = None

    def give_up(self, job: L, reason: str | None = None) -> None:
        job.lease_expires_at = None
        super().give_up(job, reason)
