"""The dispatcher's statements: what a claimed delivery sends, its attempts, and the endpoint's
failure streak. Claiming deliveries is the job queue's (app/jobs/repository.py)."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import WebhookEvent
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

Sending = Row[uuid.UUID, uuid.UUID, str, datetime, dict[str, Any], WebhookEndpoint]


async def sendings(db: AsyncSession, delivery_ids: Sequence[uuid.UUID]) -> Sequence[Sending]:
    """Per delivery: its id, its event's id, type, time and data, and its endpoint."""
    d, e, ep = WebhookDelivery, WebhookEvent, WebhookEndpoint
    stmt = (
        select(d.id, e.id, e.type, e.occurred_at, e.data, ep)
        .join(e, e.id == d.event_id)
        .join(ep, ep.id == d.endpoint_id)
        .where(d.id.in_(delivery_ids))
    )
    return (await db.execute(stmt)).all()


def add_attempt(db: AsyncSession, attempt: WebhookAttempt) -> None:
    """Stage one attempt's log row."""
    db.add(attempt)


async def endpoint_for_update(db: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    """The endpoint, locked: its failure streak and enabled flag change together."""
    return await db.get(WebhookEndpoint, endpoint_id, with_for_update=True)


async def end_failure_streak(db: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """Clear `failing_since` where it is set. No row lock when it is not: deliveries to one
    endpoint would otherwise be recorded one at a time across all workers."""
    await db.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None)
    )


async def start_failure_streak(db: AsyncSession, endpoint_id: uuid.UUID, now: datetime) -> None:
    """Set `failing_since`: bookkeeping, not an admin-visible change, so the endpoint's version
    (its ETag) stays."""
    await db.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )


async def delete_attempts_before(db: AsyncSession, cutoff: datetime) -> int:
    """Remove the attempts made before `cutoff`; returns how many."""
    result = await db.execute(delete(WebhookAttempt).where(WebhookAttempt.attempted_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
