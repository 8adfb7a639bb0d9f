"""The worker's inbound half: apply stored deliveries, oldest provider event first.

Each delivery is applied in one transaction with its audit and outbox rows, holding the
delivery row (SKIP LOCKED, so workers share the queue) and its integration's row (so one
integration's bookings are filed one at a time). A crash rolls back to `pending`.
"""

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent, Outcome
from app.audit.trail import AuditTrail, current_trail
from app.clock import Clock
from app.common.crypto import SecretBox
from app.db import begin_write
from app.inbound.models import InboundDelivery, InboundStatus
from app.inbound.service.deliveries import process

log = logging.getLogger(__name__)

ACTOR_ROLE = "integration"
MAX_BACKOFF = timedelta(hours=1)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=5 * 2 ** min(attempts, 20)), MAX_BACKOFF)


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
    ) -> None:
        self.sessionmaker = sessionmaker
        self.box = box
        self.clock = clock
        self.settle = settle
        self.batch = batch

    async def run_once(self) -> int:
        """Apply up to `batch` due deliveries; returns how many were taken."""
        for taken in range(self.batch):
            if not await self._apply_next():
                return taken
        return self.batch

    async def _apply_next(self) -> bool:
        now = self.clock()
        async with self.sessionmaker() as db:
            await begin_write(db)
            delivery = await self._next_due(db, now)
            if delivery is None:
                return False
            delivery_id = delivery.id
            try:
                await self._apply(db, delivery, now)
            except Exception as error:  # a bug or an outage must not wedge the queue
                await db.rollback()
                await self._postpone(delivery_id, error, now)
        return True

    async def _next_due(self, db: AsyncSession, now: datetime) -> InboundDelivery | None:
        d = InboundDelivery
        stmt = (
            select(d)
            .where(
                d.status == InboundStatus.pending.value,
                d.next_attempt_at <= now,
                d.received_at <= now - self.settle,
            )
            .order_by(d.occurred_at.nulls_last(), d.received_at, d.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return (await db.execute(stmt)).scalar_one_or_none()

    async def _apply(self, db: AsyncSession, delivery: InboundDelivery, now: datetime) -> None:
        trail = AuditTrail(
            action="apply_inbound_delivery",
            resource_type="inbound_delivery",
            request_id=f"inbound-{delivery.id}",
            ip=None,
        )
        token = current_trail.set(trail)
        try:
            result = await process(db, delivery, self.box, now)
        finally:
            current_trail.reset(token)
        delivery.status = result.status.value
        delivery.outcome = result.outcome
        delivery.session_id = result.session_id
        delivery.attempt_count += 1
        delivery.last_error = None
        if result.retry_at is None:
            delivery.processed_at = now
        else:
            delivery.next_attempt_at = result.retry_at
        trail.change("inbound_delivery", delivery.id, ["status"])
        rows = trail.rows(
            clinic_id=delivery.clinic_id,
            actor_id=delivery.integration_id,
            actor_role=ACTOR_ROLE,
            at=now,
            outcome=Outcome.success,
            status_code=200,
        )
        await db.execute(insert(AuditEvent), rows)
        await db.commit()

    async def _postpone(self, delivery_id: uuid.UUID, error: Exception, now: datetime) -> None:
        log.warning(
            "inbound delivery failed; will retry",
            extra={"fields": {"delivery_id": str(delivery_id), "error": type(error).__name__}},
        )
        d = InboundDelivery
        async with self.sessionmaker() as db:
            await begin_write(db)
            attempts = (
                await db.execute(select(d.attempt_count).where(d.id == delivery_id))
            ).scalar_one()
            await db.execute(
                update(d)
                .where(d.id == delivery_id, d.status == InboundStatus.pending.value)
                .values(
                    attempt_count=attempts + 1,
                    next_attempt_at=now + _backoff(attempts),
                    last_error=f"{type(error).__name__}"[:200],
                )
            )
            await db.commit()
