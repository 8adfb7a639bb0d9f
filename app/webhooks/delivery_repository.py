"""The dispatcher's statements, a constant number per batch of deliveries: what the claimed
deliveries send, their state re-read under lock, their attempts and outcomes written in bulk, and
the endpoints' failure streaks. Leasing deliveries is the job queue's (app/jobs/repository.py)."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import WebhookEvent
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

d, e, ep = WebhookDelivery, WebhookEvent, WebhookEndpoint
# A delivery's job state: what the queue decides on, and what an outcome writes back.
STATE = (
    d.id,
    d.status,
    d.attempt_count,
    d.next_attempt_at,
    d.last_error,
    d.lease_expires_at,
    d.last_status_code,
    d.completed_at,
)
STATE_FIELDS = tuple(column.key for column in STATE)
# Rows read by column name (`row.status`, `row.url`): their shape is the statement's.
Plain: TypeAlias = Row[*tuple[Any, ...]]


async def sendings(db: AsyncSession, delivery_ids: Sequence[uuid.UUID]) -> Sequence[Plain]:
    """Per delivery: its job state, its event (`event_id`, `event_type`, `occurred_at`, `data`)
    and what of its endpoint a send needs, as plain rows."""
    stmt = (
        select(
            *STATE,
            e.id.label("event_id"),
            e.type.label("event_type"),
            e.occurred_at,
            e.data,
            ep.id.label("endpoint_id"),
            ep.clinic_id,
            ep.url,
            ep.enabled,
            ep.deleted_at,
            ep.event_types,
            ep.secret_ciphertext,
            ep.previous_secret_ciphertext,
            ep.previous_secret_expires_at,
        )
        .join(e, e.id == d.event_id)
        .join(ep, ep.id == d.endpoint_id)
        .where(d.id.in_(delivery_ids))
    )
    rows: Sequence[Plain] = (await db.execute(stmt)).all()
    return rows


async def states_for_update(
    db: AsyncSession, delivery_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Plain]:
    """The deliveries' job states read afresh and locked, in id order (no two recorders wait
    on each other in a cycle)."""
    stmt = select(*STATE).where(d.id.in_(delivery_ids)).order_by(d.id).with_for_update()
    rows: Sequence[Plain] = (await db.execute(stmt)).all()
    return {row.id: row for row in rows}


async def add_attempts(db: AsyncSession, attempts: Sequence[dict[str, Any]]) -> None:
    """The attempts' log rows, in one INSERT."""
    if attempts:
        await db.execute(insert(WebhookAttempt), list(attempts))


async def save_states(db: AsyncSession, states: Sequence[dict[str, Any]]) -> None:
    """Write back job states (each with every field of STATE), in one UPDATE by primary key."""
    if states:
        await db.execute(update(WebhookDelivery), list(states))


async def endpoints_for_update(
    db: AsyncSession, endpoint_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, WebhookEndpoint]:
    """The endpoints, locked in id order: a failure streak and the enabled flag change
    together."""
    stmt = select(ep).where(ep.id.in_(endpoint_ids)).order_by(ep.id).with_for_update()
    return {endpoint.id: endpoint for endpoint in (await db.execute(stmt)).scalars().all()}


async def end_failure_streaks(db: AsyncSession, endpoint_ids: Collection[uuid.UUID]) -> None:
    """Clear `failing_since` where it is set. No row lock where it is not: deliveries to one
    endpoint would otherwise be recorded one batch at a time across all workers."""
    if endpoint_ids:
        await db.execute(
            update(ep)
            .where(ep.id.in_(endpoint_ids), ep.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )


async def start_failure_streaks(
    db: AsyncSession, endpoint_ids: Collection[uuid.UUID], now: datetime
) -> None:
    """Set `failing_since`: bookkeeping, not an admin-visible change, so the endpoints' version
    (their ETag) stays."""
    if endpoint_ids:
        await db.execute(
            update(ep)
            .where(ep.id.in_(endpoint_ids))
            .values(failing_since=now)
            .execution_options(synchronize_session=False)
        )


async def delete_attempts_before(db: AsyncSession, cutoff: datetime) -> int:
    """Remove the attempts made before `cutoff`; returns how many."""
    result = await db.execute(delete(WebhookAttempt).where(WebhookAttempt.attempted_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
