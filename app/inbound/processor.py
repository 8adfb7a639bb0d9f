"""The worker's inbound half: apply stored deliveries, oldest provider event first.

Deliveries are a job queue (app/jobs/queue.py) held by the applying transaction: each is applied
in one unit of work with its audit and outbox rows, holding the delivery row (SKIP LOCKED, so
workers share the queue) and its integration's row (so one integration's bookings are filed one
at a time). A crash rolls back to `pending`; a failure is retried after 5 s, doubling up to 1 h,
for as long as it takes.
"""

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.actors import Actor
from app.clock import Clock
from app.common.crypto import SecretBox
from app.inbound.models import InboundDelivery
from app.inbound.service.deliveries import process
from app.jobs.metrics import JobMetrics
from app.jobs.models import PENDING
from app.jobs.queue import JobQueue
from app.jobs.schedule import Doubling
from app.unit_of_work import UnitOfWork, worker_unit

log = logging.getLogger(__name__)

QUEUE = "inbound_deliveries"
ACTION = "apply_inbound_delivery"
ACTOR_ROLE = "integration"
RETRIES = Doubling(first=timedelta(seconds=5), cap=timedelta(hours=1))
# The provider's own order: a reschedule's cancel and re-create apply as they happened.
ORDER = (
    InboundDelivery.occurred_at.nulls_last(),
    InboundDelivery.received_at,
    InboundDelivery.id,
)


class InboundProcessor:
    """Applies pending inbound deliveries; `settle` lets near-simultaneous deliveries (a
    Calendly reschedule's pair) arrive before the first is applied, so they apply in order."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        clock: Clock,
        settle: timedelta,
        batch: int = 50,
        metrics: JobMetrics | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.box = box
        self.clock = clock
        self.settle = settle
        self.batch = batch
        metrics = metrics or JobMetrics()
        self.queue = JobQueue(QUEUE, InboundDelivery, RETRIES, metrics, order_by=ORDER)

    async def run_once(self) -> int:
        """Apply up to `batch` due deliveries; returns how many were taken."""
        for taken in range(self.batch):
            if not await self._apply_next():
                return taken
        return self.batch

    async def _apply_next(self) -> bool:
        now = self.clock()
        delivery_id: uuid.UUID | None = None
        try:
            async with worker_unit(
                self.sessionmaker, self.clock, action=ACTION, resource_type="inbound_delivery"
            ) as work:
                settled = InboundDelivery.received_at <= now - self.settle
                due = await self.queue.claim(work.session, now, 1, where=[settled])
                if not due:
                    return False
                delivery_id = due[0].id
                await self._apply(work, due[0], now)
        except Exception as error:
            if delivery_id is None:
                raise  # no delivery in hand: an outage, the worker loop's to ride out
            # A bug or an outage must not wedge the queue: the delivery waits its turn again.
            await self._postpone(delivery_id, error, now)
        return True

    async def _apply(
        self, work: UnitOfWork[None], delivery: InboundDelivery, now: datetime
    ) -> None:
        work.trail.request_id = f"inbound-{delivery.id}"
        work.act_as(Actor(delivery.clinic_id, delivery.integration_id, ACTOR_ROLE))
        result = await process(work.session, delivery, self.box, now)
        delivery.outcome = result.outcome
        delivery.session_id = result.session_id
        self.queue.attempted(delivery, None)
        if result.retry_at is None:
            self.queue.succeeded(delivery, result.status.value)
            delivery.processed_at = now
        else:
            self.queue.defer(delivery, result.retry_at)
        work.note_change("inbound_delivery", delivery.id, ["status"])
        await work.finish_task()

    async def _postpone(self, delivery_id: uuid.UUID, error: Exception, now: datetime) -> None:
        log.warning(
            "inbound delivery failed; will retry",
            extra={"fields": {"delivery_id": str(delivery_id), "error": type(error).__name__}},
        )
        async with worker_unit(
            self.sessionmaker, self.clock, action=ACTION, resource_type="inbound_delivery"
        ) as work:
            delivery = await self.queue.again(work.session, delivery_id)
            if delivery is not None and delivery.status == PENDING:
                self.queue.attempted(delivery, type(error).__name__[:200])
                self.queue.retry(delivery, now)
            await work.finish_task()
