"""The outbox dispatcher: claims due deliveries, sends them signed, and schedules retries.

Claims are short transactions that set a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any
number of workers can run); no lock is held while the HTTP request is in flight, and a lease that
expires (a worker died mid-delivery) makes the delivery claimable again, with the same webhook-id.
"""

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent, Outcome
from app.clock import Clock
from app.common.crypto import SecretBox
from app.db import begin_write, new_id
from app.events.catalogue import EventType
from app.events.models import WebhookEvent
from app.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.webhooks.sender import AttemptResult, send
from app.webhooks.signing import body_of, signed_headers
from app.webhooks.ssrf import AllowedHosts

log = logging.getLogger(__name__)

# Delay before each attempt: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
RETRY_DELAYS = [
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
]
JITTER = 0.2
LEASE = timedelta(seconds=60)
DISABLE_AFTER = timedelta(days=5)
MAX_RETRY_AFTER = timedelta(hours=24)
ATTEMPT_RETENTION = timedelta(days=30)
SEND_TIMEOUT_S = 15.0
Sender = Callable[..., Awaitable[AttemptResult]]


@dataclass(frozen=True)
class Claimed:
    """Everything needed to send one delivery, read while it was claimed."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    clinic_id: uuid.UUID
    url: str
    lease_expires_at: datetime
    event_id: str
    body: bytes
    secrets: list[str]


def next_delay(attempts_made: int, rng: random.Random) -> timedelta | None:
    """When to try again after `attempts_made` failures (±20 %), or None when exhausted."""
    if attempts_made >= len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[attempts_made]
    return delay * (1 + rng.uniform(-JITTER, JITTER))


class Dispatcher:
    """One worker's share of the outbox.

    `excerpt_bytes` is how much of each reply's body the attempt log keeps: 0 (the default)
    keeps none, only the status and the header block's size (KAP_WEBHOOK_RESPONSE_EXCERPT_BYTES).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        allowed: AllowedHosts,
        clock: Clock,
        *,
        batch: int = 20,
        lease: timedelta = LEASE,
        sender: Sender = send,
        rng: random.Random | None = None,
        excerpt_bytes: int = 0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.box = box
        self.allowed = allowed
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.sender = sender
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.excerpt_bytes = excerpt_bytes

    async def run_once(self) -> int:
        """Claim what is due, send it concurrently, record the outcomes; returns how many."""
        claimed = await self._claim(self.clock())
        await asyncio.gather(*(self._deliver(item) for item in claimed))
        return len(claimed)

    async def _claim(self, now: datetime) -> list[Claimed]:
        d, e, ep = WebhookDelivery, WebhookEvent, WebhookEndpoint
        async with self.sessionmaker() as db:
            await begin_write(db)
            due = (
                (
                    await db.execute(
                        select(d)
                        .where(
                            d.status == DeliveryStatus.pending.value,
                            d.next_attempt_at <= now,
                            or_(d.lease_expires_at.is_(None), d.lease_expires_at <= now),
                        )
                        .order_by(d.next_attempt_at)
                        .limit(self.batch)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not due:
                return []
            rows = (
                await db.execute(
                    select(d.id, e.id, e.type, e.occurred_at, e.data, ep)
                    .join(e, e.id == d.event_id)
                    .join(ep, ep.id == d.endpoint_id)
                    .where(d.id.in_([delivery.id for delivery in due]))
                )
            ).all()
            claimed: list[Claimed] = []
            for delivery_id, event_id, event_type, occurred_at, data, endpoint in rows:
                if not _still_wanted(endpoint, event_type):
                    await db.execute(
                        update(d)
                        .where(d.id == delivery_id)
                        .values(
                            status=DeliveryStatus.failed.value,
                            last_error="endpoint disabled or unsubscribed",
                            completed_at=now,
                        )
                    )
                    continue
                lease_expires_at = now + self.lease
                await db.execute(
                    update(d).where(d.id == delivery_id).values(lease_expires_at=lease_expires_at)
                )
                claimed.append(
                    Claimed(
                        delivery_id=delivery_id,
                        endpoint_id=endpoint.id,
                        clinic_id=endpoint.clinic_id,
                        url=endpoint.url,
                        lease_expires_at=lease_expires_at,
                        event_id=str(event_id),
                        body=body_of(str(event_id), event_type, occurred_at, data),
                        secrets=self._secrets(endpoint, now),
                    )
                )
            await db.commit()
        return claimed

    def _secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        secrets = [self.box.open(endpoint.secret_ciphertext)]
        previous = endpoint.previous_secret_ciphertext
        expires = endpoint.previous_secret_expires_at
        if previous is not None and expires is not None and expires > now:
            secrets.append(self.box.open(previous))
        return secrets

    async def _deliver(self, item: Claimed) -> None:
        sent_at = self.clock()
        headers = signed_headers(item.event_id, item.body, item.secrets, sent_at)
        # An attempt must end before its lease does, or another worker would send it again.
        timeout_s = min(SEND_TIMEOUT_S, self.lease.total_seconds() * 0.8)
        result = await self.sender(
            item.url,
            headers=headers,
            body=item.body,
            allowed=self.allowed,
            timeout_s=timeout_s,
            excerpt_bytes=self.excerpt_bytes,
        )
        await self._record(item, result, self.clock())

    async def _record(self, item: Claimed, result: AttemptResult, now: datetime) -> None:
        async with self.sessionmaker() as db:
            await begin_write(db)
            delivery = await db.get(WebhookDelivery, item.delivery_id, with_for_update=True)
            if delivery is None:
                return
            db.add(
                WebhookAttempt(
                    clinic_id=item.clinic_id,
                    delivery_id=item.delivery_id,
                    attempted_at=now,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    error=result.error,
                    response_excerpt=result.response_excerpt,
                    response_headers_bytes=result.response_headers_bytes,
                    response_body_bytes=result.response_body_bytes,
                )
            )
            if delivery.lease_expires_at != item.lease_expires_at:
                # Our lease ran out and another worker owns the delivery now: the attempt is on
                # record, its outcome is the new owner's to decide.
                await db.commit()
                return
            delivery.attempt_count += 1
            delivery.last_status_code = result.status_code
            delivery.last_error = result.error
            delivery.lease_expires_at = None
            if result.succeeded:
                delivery.status = DeliveryStatus.succeeded.value
                delivery.completed_at = now
                # No row lock on the endpoint on the happy path: deliveries to one endpoint
                # would otherwise be recorded one at a time across all workers.
                await db.execute(
                    update(WebhookEndpoint)
                    .where(
                        WebhookEndpoint.id == item.endpoint_id,
                        WebhookEndpoint.failing_since.is_not(None),
                    )
                    .values(failing_since=None)
                )
            else:
                endpoint = await db.get(WebhookEndpoint, item.endpoint_id, with_for_update=True)
                if endpoint is not None:
                    await self._after_failure(db, delivery, endpoint, result, now)
            await db.commit()

    async def _after_failure(
        self,
        db: AsyncSession,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        result: AttemptResult,
        now: datetime,
    ) -> None:
        failing_since = endpoint.failing_since or now
        if endpoint.failing_since is None:
            # Bookkeeping, not an admin-visible change: keep the endpoint's version (ETag).
            await db.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id)
                .values(failing_since=now)
                .execution_options(synchronize_session=False)
            )
        if result.status_code == 410:
            self._disable(db, endpoint, "The receiver answered 410 Gone.", now)
        elif now - failing_since >= DISABLE_AFTER:
            self._disable(db, endpoint, "Every delivery failed for 5 days.", now)
        delay = next_delay(delivery.attempt_count, self.rng)
        if not endpoint.enabled or delay is None:
            delivery.status = DeliveryStatus.failed.value
            delivery.completed_at = now
            return
        if result.retry_after_s is not None:
            delay = min(max(delay, timedelta(seconds=result.retry_after_s)), MAX_RETRY_AFTER)
        delivery.next_attempt_at = now + delay

    def _disable(
        self, db: AsyncSession, endpoint: WebhookEndpoint, reason: str, now: datetime
    ) -> None:
        if not endpoint.enabled:
            return
        endpoint.enabled = False
        endpoint.disabled_reason = reason
        endpoint.disabled_at = now
        log.warning(
            "webhook endpoint disabled", extra={"fields": {"endpoint_id": str(endpoint.id)}}
        )
        db.add(
            AuditEvent(
                id=new_id(),
                clinic_id=endpoint.clinic_id,
                at=now,
                actor_id=None,
                actor_role="system",
                action="webhook_endpoint.disabled",
                resource_type="webhook_endpoint",
                resource_id=str(endpoint.id),
                request_id=f"worker-{uuid.uuid4().hex}",
                ip=None,
                outcome=Outcome.success.value,
                status_code=0,
                changed_fields=["enabled", "disabled_reason"],
            )
        )

    async def clean_up(self) -> int:
        """Remove attempts older than 30 days; returns how many."""
        async with self.sessionmaker() as db:
            await begin_write(db)
            cutoff = self.clock() - ATTEMPT_RETENTION
            result = await db.execute(
                delete(WebhookAttempt).where(WebhookAttempt.attempted_at < cutoff)
            )
            await db.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def _still_wanted(endpoint: WebhookEndpoint, event_type: str) -> bool:
    """The endpoint's filter and enabled flag, checked again at send time."""
    if not endpoint.enabled or endpoint.deleted_at is not None:
        return False
    return event_type == EventType.webhook_test.value or event_type in endpoint.event_types
