"""The outbox dispatcher: claims due deliveries, sends them signed, and schedules retries.

Deliveries are a leased job queue (app/jobs/queue.py), worked in batches:

1. claim: a short transaction leases up to `batch` due deliveries in one statement (`FOR UPDATE
   SKIP LOCKED` on PostgreSQL, so any number of workers can run) and reads what they send in a
   second one;
2. send: all of the batch at once, over keep-alive connections (app/webhooks/connections.py),
   with no transaction open;
3. record: one transaction re-reads the batch's states under lock, inserts every attempt in one
   statement and writes every outcome in another. Failures lock their endpoints (a failure
   streak may disable one, an audited change), so they are recorded per clinic, before the
   successes.

A lease that expires (a worker died mid-batch) makes the delivery claimable again, with the same
webhook-id; a worker whose lease ran out records its attempt but decides nothing.
"""

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.actors import Actor
from app.clock import Clock
from app.common.crypto import SecretBox
from app.events.catalogue import EventType
from app.jobs.metrics import JobMetrics
from app.jobs.queue import LeasedJobQueue
from app.jobs.schedule import Steps
from app.unit_of_work import UnitOfWork, worker_unit
from app.webhooks import delivery_repository as repository
from app.webhooks.connections import Connections
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
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
BATCH = 50
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


@dataclass(frozen=True)
class Outcome:
    """One attempt of a batch: what was sent, what came back, and when it ended."""

    item: Claimed
    result: AttemptResult
    at: datetime


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
    A batch is sent all at once, so `batch` also bounds the attempts in flight.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        allowed: AllowedHosts,
        clock: Clock,
        *,
        batch: int = BATCH,
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
        self.connections = Connections(per_host=batch)

    async def run_once(self) -> int:
        """Claim what is due, send it concurrently, record the outcomes; returns how many."""
        claimed = await self._claim(self.clock())
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(item) for item in claimed))
        await self._record(outcomes)
        await self.connections.trim()
        return len(claimed)

    async def close(self) -> None:
        """Close the kept-alive connections."""
        await self.connections.aclose()

    async def _claim(self, now: datetime) -> list[Claimed]:
        async with worker_unit(
            self.sessionmaker, self.clock, action="claim_webhook_deliveries", resource_type=QUEUE
        ) as work:
            ids = await self.queue.lease_batch(work.session, now, self.batch)
            if not ids:
                return []
            lease_expires_at = now + self.lease
            claimed: list[Claimed] = []
            unwanted: list[WebhookDelivery] = []
            for row in await repository.sendings(work.session, ids):
                if not _still_wanted(row):
                    delivery = _state(row)
                    self.queue.give_up(delivery, "endpoint disabled or unsubscribed")
                    delivery.completed_at = now
                    unwanted.append(delivery)
                    continue
                claimed.append(
                    Claimed(
                        delivery_id=row.id,
                        endpoint_id=row.endpoint_id,
                        clinic_id=row.clinic_id,
                        url=row.url,
                        lease_expires_at=lease_expires_at,
                        event_id=str(row.event_id),
                        body=body_of(str(row.event_id), row.event_type, row.occurred_at, row.data),
                        secrets=self._secrets(row, now),
                    )
                )
            await repository.save_states(work.session, [_fields(d) for d in unwanted])
            await work.finish_task()
        return claimed

    def _secrets(self, endpoint: Row[Any], now: datetime) -> list[str]:
        secrets = [self.box.open(endpoint.secret_ciphertext)]
        previous = endpoint.previous_secret_ciphertext
        expires = endpoint.previous_secret_expires_at
        if previous is not None and expires is not None and expires > now:
            secrets.append(self.box.open(previous))
        return secrets

    async def _send(self, item: Claimed) -> Outcome:
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
            connections=self.connections,
        )
        return Outcome(item, result, self.clock())

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        failures: dict[uuid.UUID, list[Outcome]] = {}
        for outcome in outcomes:
            if not outcome.result.succeeded:
                failures.setdefault(outcome.item.clinic_id, []).append(outcome)
        for clinic_id, failed in failures.items():
            await self._record_batch(failed, clinic_id)
        succeeded = [outcome for outcome in outcomes if outcome.result.succeeded]
        if succeeded:
            await self._record_batch(succeeded, None)

    async def _record_batch(self, outcomes: Sequence[Outcome], clinic_id: uuid.UUID | None) -> None:
        """Record attempts in one transaction: failures of one clinic (`clinic_id`, whose
        endpoints they may disable, audited as the system), or successes of any."""
        async with worker_unit(
            self.sessionmaker,
            self.clock,
            action="webhook_endpoint.disabled",  # the only change recording audits
            resource_type="webhook_endpoint",
        ) as work:
            if clinic_id is not None:
                work.act_as(Actor(clinic_id, None, SYSTEM))
            states = await repository.states_for_update(
                work.session, [outcome.item.delivery_id for outcome in outcomes]
            )
            present = [outcome for outcome in outcomes if outcome.item.delivery_id in states]
            await repository.add_attempts(work.session, [_attempt(o) for o in present])
            failing = {o.item.endpoint_id for o in present if not o.result.succeeded}
            endpoints = (
                await repository.endpoints_for_update(work.session, failing) if failing else {}
            )
            streaks = _Streaks(endpoints)
            settled: list[WebhookDelivery] = []
            for outcome in present:
                delivery = _state(states[outcome.item.delivery_id])
                if not self.queue.holds(delivery, outcome.item.lease_expires_at):
                    # Our lease ran out and another worker owns the delivery now: the attempt is
                    # on record, its outcome is the new owner's to decide.
                    continue
                self._settle(work, delivery, outcome, streaks)
                settled.append(delivery)
            await repository.save_states(work.session, [_fields(d) for d in settled])
            await repository.start_failure_streaks(work.session, streaks.started, self.clock())
            await repository.end_failure_streaks(work.session, streaks.ended)
            await work.finish_task()

    def _settle(
        self,
        work: UnitOfWork[None],
        delivery: WebhookDelivery,
        outcome: Outcome,
        streaks: "_Streaks",
    ) -> None:
        item, result, now = outcome.item, outcome.result, outcome.at
        self.queue.attempted(delivery, result.error)
        delivery.last_status_code = result.status_code
        if result.succeeded:
            self.queue.succeeded(delivery, DeliveryStatus.succeeded.value)
            delivery.completed_at = now
            streaks.ended.add(item.endpoint_id)
            return
        endpoint = streaks.endpoints.get(item.endpoint_id)
        if endpoint is None:
            return
        failing_since = streaks.failing_since(endpoint, now)
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


class _Streaks:
    """The failing endpoints of one recording, locked, and the failure streaks it starts and
    ends. A streak is written without touching the endpoint's version (bookkeeping, not an
    admin's change); a success in the batch ends its endpoint's streak."""

    def __init__(self, endpoints: dict[uuid.UUID, WebhookEndpoint]) -> None:
        self.endpoints = endpoints
        self.started: dict[uuid.UUID, datetime] = {}
        self.ended: set[uuid.UUID] = set()

    def failing_since(self, endpoint: WebhookEndpoint, now: datetime) -> datetime:
        """When the endpoint's streak began, starting one now if none runs."""
        if endpoint.failing_since is not None:
            return endpoint.failing_since
        return self.started.setdefault(endpoint.id, now)


def _state(row: Row[Any]) -> WebhookDelivery:
    """A delivery's job state as read, detached: the queue decides on it, and `_fields` writes
    it back in bulk."""
    return WebhookDelivery(**{name: getattr(row, name) for name in repository.STATE_FIELDS})


def _fields(delivery: WebhookDelivery) -> dict[str, Any]:
    return {name: getattr(delivery, name) for name in repository.STATE_FIELDS}


def _attempt(outcome: Outcome) -> dict[str, Any]:
    item, result = outcome.item, outcome.result
    return {
        "clinic_id": item.clinic_id,
        "delivery_id": item.delivery_id,
        "attempted_at": outcome.at,
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "error": result.error,
        "response_excerpt": result.response_excerpt,
        "response_headers_bytes": result.response_headers_bytes,
        "response_body_bytes": result.response_body_bytes,
    }


def _disable(work: UnitOfWork[None], endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now
    log.warning("webhook endpoint disabled", extra={"fields": {"endpoint_id": str(endpoint.id)}})
    work.note_change("webhook_endpoint", endpoint.id, ["enabled", "disabled_reason"])


def _still_wanted(sending: Row[Any]) -> bool:
    """The endpoint's filter and enabled flag, checked again at send time."""
    if not sending.enabled or sending.deleted_at is not None:
        return False
    event_type = sending.event_type
    return event_type == EventType.webhook_test.value or event_type in sending.event_types
