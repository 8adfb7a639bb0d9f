"""The worker: outbox dispatcher, inbound bookings, window scanner and clean-up in one loop.

`kap-journey worker` runs it as its own process (any number of them on PostgreSQL);
`kap-journey serve` runs one in-process unless --no-worker. The deliveries are job queues and
the timed tasks recurring ones (app/jobs/), each task in a unit of work of its own.
"""

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.retention import prepare_months
from app.clock import Clock
from app.common.crypto import SecretBox
from app.config import Settings
from app.idempotency.repository import delete_expired
from app.inbound.processor import InboundProcessor
from app.jobs.metrics import JobMetrics
from app.jobs.recurring import Recurring
from app.jobs.schedule import Doubling
from app.unit_of_work import worker_unit
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.ssrf import AllowedHosts
from app.windows.events import scan_windows

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.2
SCAN_EVERY = timedelta(seconds=30)
CLEAN_EVERY = timedelta(hours=1)
ERROR_BACKOFF_S = 2.0


def _retries(every: timedelta) -> Doubling:
    """A failed timed task is tried again after the loop's error pause, doubling up to its
    period."""
    return Doubling(first=timedelta(seconds=ERROR_BACKOFF_S), cap=every)


class Worker:
    """Polls the queues; scans windows and cleans up on slower timers.

    `registry` is where the queue metrics go (the app's, for the in-process worker).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        box: SecretBox,
        clock: Clock,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        metrics = JobMetrics(registry)
        self.dispatcher = Dispatcher(
            sessionmaker,
            box,
            AllowedHosts.parse(settings.webhook_allowed_hosts),
            clock,
            lease=timedelta(seconds=settings.webhook_lease_seconds),
            excerpt_bytes=settings.webhook_response_excerpt_bytes,
            metrics=metrics,
        )
        self.inbound = InboundProcessor(
            sessionmaker,
            box,
            clock,
            settle=timedelta(seconds=settings.inbound_settle_seconds),
            metrics=metrics,
        )
        self.timed = [
            Recurring("window_scan", SCAN_EVERY, self.scan, metrics, _retries(SCAN_EVERY)),
            Recurring(
                "webhook_attempt_cleanup",
                CLEAN_EVERY,
                self.dispatcher.clean_up,
                metrics,
                _retries(CLEAN_EVERY),
            ),
            Recurring("idempotency_purge", CLEAN_EVERY, self.purge, metrics, _retries(CLEAN_EVERY)),
            Recurring(
                "audit_months_ahead", CLEAN_EVERY, self.audit_months, metrics, _retries(CLEAN_EVERY)
            ),
        ]

    async def scan(self) -> int:
        async with worker_unit(
            self.sessionmaker, self.clock, action="scan_windows", resource_type="window"
        ) as work:
            emitted = await scan_windows(work.session, self.clock())
            await work.finish_task()
        return emitted

    async def purge(self) -> int:
        """Delete expired idempotency records: they replay nothing any more, and their sealed
        responses may hold PHI that should not outlive its purpose. Safe in several workers at
        once: a record goes once, whoever deletes it."""
        async with worker_unit(
            self.sessionmaker, self.clock, action="purge_expired", resource_type="idempotency_key"
        ) as work:
            removed = await delete_expired(work.session, self.clock())
            await work.finish_task()
        return removed

    async def audit_months(self) -> int:
        """Create the audit trail's monthly partitions ahead of time (PostgreSQL; issue 17)."""
        async with worker_unit(
            self.sessionmaker,
            self.clock,
            action="prepare_audit_months",
            resource_type="audit_event",
        ) as work:
            made = await prepare_months(work.session, self.clock())
            await work.finish_task()
        return made

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; errors (a database restart, say) are logged and retried."""
        while not stop.is_set():
            try:
                sent = await self.dispatcher.run_once() + await self.inbound.run_once()
                for task in self.timed:
                    await task.run_if_due(time.monotonic())
                pause = 0.0 if sent else IDLE_POLL_S
            except Exception as error:  # keep the worker alive through outages
                log.warning(
                    "worker cycle failed", extra={"fields": {"error": type(error).__name__}}
                )
                pause = ERROR_BACKOFF_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause or 0.001)
        await self.dispatcher.close()
