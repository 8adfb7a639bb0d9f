"""The outbox dispatcher: claims due deliveries, sends them signed, and schedules retries.

Deliveries are a leased job queue (app/jobs/queue.py): a claim is a short transaction that
leases them (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of workers can run); no lock
is held while the HTTP request is in flight, and a lease that expires (a worker died
mid-delivery) makes the delivery claimable again, with the same webhook-id.
"""

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.common.crypto import SecretBox
from app.events.catalogue import EventType
from app.jobs.metrics import JobMetrics
from app.jobs.queue import LeasedJobQueue
from app.jobs.schedule import Steps
from app.unit_of_work import Actor, UnitOfWork, worker_unit
from app.webhooks import delivery_repository as repository
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

QUEUE = "webhook_deliveries"
# Delay before each attempt: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
# (docs/webhooks.md, "Retry schedule").
RETRY_DELAYS = (
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
)
JITTER = 0.2
LEASE = timedelta(seconds=60)
DISABLE_AFTER = timedelta(days=5)
MAX_RETRY_AFTER = timedelta(hours=24)
ATTEMPT_RETENTION = timedelta(days=30)
SEND_TIMEOUT_S = 15.0
SYSTEM = "system"
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


def delivery_queue(
    metrics: JobMetrics,
    lease: timedelta = LEASE,
    rng: random.Random | None = None,
) -> LeasedJobQueue[WebhookDelivery]:
    """The outbound deliveries: ten attempts by RETRY_DELAYS (±20 %), a receiver's Retry-After
    honoured up to 24 h."""
    schedule = Steps(RETRY_DELAYS, JITTER, rng or random.Random())  # noqa: S311 - jitter
    return LeasedJobQueue(
        QUEUE, WebhookDelivery, schedule, metrics, lease=lease, longest_wait=MAX_RETRY_AFTER
    )


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
        metrics: JobMetrics | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.box = box
        self.allowed = allowed
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.sender = sender
        self.excerpt_bytes = excerpt_bytes
        self.queue = delivery_queue(metrics or JobMetrics(), lease, rng)

    async def run_once(self) -> int:
        """Claim what is due, send it concurrently, record the outcomes; returns how many."""
        claimed = await self._claim(self.clock())
        await asyncio.gather(*(self._deliver(item) for item in claimed))
        return len(claimed)

    async def _claim(self, now: datetime) -> list[Claimed]:
        async with worker_unit(
            self.sessionmaker, self.clock, action="claim_webhook_deliveries", resource_type=QUEUE
        ) as work:
            due = await self.queue.claim(work.session, now, self.batch)
            if not due:
                return []
            by_id = {delivery.id: delivery for delivery in due}
            lease_expires_at = now + self.lease
            claimed: list[Claimed] = []
            sendings = await repository.sendings(work.session, list(by_id))
            for delivery_id, event_id, event_type, occurred_at, data, endpoint in sendings:
                delivery = by_id[delivery_id]
                if not _still_wanted(endpoint, event_type):
                    self.queue.give_up(delivery, "endpoint disabled or unsubscribed")
                    delivery.completed_at = now
                    continue
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
            await work.finish_task()
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
        # The only change recording an attempt audits is an endpoint it disables.
        async with worker_unit(
            self.sessionmaker,
            self.clock,
            action="webhook_endpoint.disabled",
            resource_type="webhook_endpoint",
        ) as work:
            work.act_as(Actor(item.clinic_id, None, SYSTEM))
            delivery = await self.queue.again(work.session, item.delivery_id)
            if delivery is None:
                return
            repository.add_attempt(work.session, _attempt(item, result, now))
            if self.queue.holds(delivery, item.lease_expires_at):
                await self._settle(work, delivery, item, result, now)
            # Else our lease ran out and another worker owns the delivery now: the attempt is
            # on record, its outcome is the new owner's to decide.
            await work.finish_task()

    async def _settle(
        self,
        work: UnitOfWork[None],
        delivery: WebhookDelivery,
        item: Claimed,
        result: AttemptResult,
        now: datetime,
    ) -> None:
        self.queue.attempted(delivery, result.error)
        delivery.last_status_code = result.status_code
        if result.succeeded:
            self.queue.succeeded(delivery, DeliveryStatus.succeeded.value)
            delivery.completed_at = now
            await repository.end_failure_streak(work.session, item.endpoint_id)
            return
        endpoint = await repository.endpoint_for_update(work.session, item.endpoint_id)
        if endpoint is None:
            return
        failing_since = endpoint.failing_since or now
        if endpoint.failing_since is None:
            await repository.start_failure_streak(work.session, endpoint.id, now)
        if result.status_code == 410:
            _disable(work, endpoint, "The receiver answered 410 Gone.", now)
        elif now - failing_since >= DISABLE_AFTER:
            _disable(work, endpoint, "Every delivery failed for 5 days.", now)
        if not endpoint.enabled:
            self.queue.give_up(delivery)
            delivery.completed_at = now
            return
        asked = None if result.retry_after_s is None else timedelta(seconds=result.retry_after_s)
        if not self.queue.retry(delivery, now, wait_at_least=asked):
            delivery.completed_at = now

    async def clean_up(self) -> int:
        """Remove attempts older than 30 days; returns how many."""
        async with worker_unit(
            self.sessionmaker,
            self.clock,
            action="clean_up_attempts",
            resource_type="webhook_attempt",
        ) as work:
            removed = await repository.delete_attempts_before(
                work.session, self.clock() - ATTEMPT_RETENTION
            )
            await work.finish_task()
        return removed


def _attempt(item: Claimed, result: AttemptResult, now: datetime) -> WebhookAttempt:
    return WebhookAttempt(
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


def _disable(work: UnitOfWork[None], endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now
    log.warning("webhook endpoint disabled", extra={"fields": {"endpoint_id": str(endpoint.id)}})
    work.note_change("webhook_endpoint", endpoint.id, ["enabled", "disabled_reason"])


def _still_wanted(endpoint: WebhookEndpoint, event_type: str) -> bool:
    """The endpoint's filter and enabled flag, checked again at send time."""
    if not endpoint.enabled or endpoint.deleted_at is not None:
        return False
    return event_type == EventType.webhook_test.value or event_type in endpoint.event_types
