"""Recurring tasks: what a worker does on a timer (scan windows, clean up), counted like jobs.

Each worker runs them on its own timer; they are safe to run from several workers at once (each
says how), so they need no table of their own: what they work on (expired records, old attempts,
due window events) is itself what stays in the database until done. A failed run is tried again
by its retry schedule rather than a whole period later.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta

from app.jobs.metrics import JobMetrics
from app.jobs.schedule import RetrySchedule


class Recurring:
    """One task run every `every`, with the queue metrics under its `name`."""

    def __init__(
        self,
        name: str,
        every: timedelta,
        task: Callable[[], Awaitable[int]],
        metrics: JobMetrics,
        retry: RetrySchedule,
    ) -> None:
        self.name = name
        self.every = every
        self.task = task
        self.metrics = metrics
        self.retry = retry
        self.due_at = 0.0  # on the monotonic clock: due at once when the worker starts
        self.failures = 0
        metrics.declare(name)

    async def run_if_due(self, now: float) -> int:
        """Run the task if it is due at `now` (monotonic seconds); returns what it returned.
        A failure propagates, after scheduling the next try."""
        if now < self.due_at:
            return 0
        self.metrics.claims.labels(self.name).inc()
        try:
            done = await self.task()
        except Exception:
            self.failures += 1
            delay = self.retry.delay(self.failures) or self.every
            self.due_at = now + delay.total_seconds()
            self.metrics.retries.labels(self.name).inc()
            raise
        self.failures = 0
        self.due_at = now + self.every.total_seconds()
        self.metrics.successes.labels(self.name).inc()
        return done
