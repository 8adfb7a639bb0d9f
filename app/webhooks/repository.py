"""SQL for webhook endpoints and the deliveries their admins see and resend."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, in_clinic
from app.events.models import WebhookEvent
from app.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


async def endpoint(
    db: AsyncSession, clinic_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint | None:
    """The clinic's endpoint, unless it was deleted."""
    stmt = clinic_scoped(WebhookEndpoint, clinic_id).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.deleted_at.is_(None)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def endpoints_page(
    db: AsyncSession, clinic_id: uuid.UUID, page: PageParams
) -> Sequence[WebhookEndpoint]:
    """A page of the clinic's live endpoints, oldest first."""
    stmt = clinic_scoped(WebhookEndpoint, clinic_id).where(WebhookEndpoint.deleted_at.is_(None))
    stmt = keyset(stmt, [WebhookEndpoint.created_at, WebhookEndpoint.id], page)
    return (await db.execute(stmt)).scalars().all()


async def deliveries_page(
    db: AsyncSession, endpoint: WebhookEndpoint, page: PageParams
) -> tuple[Sequence[tuple[WebhookDelivery, str]], dict[uuid.UUID, list[WebhookAttempt]]]:
    """A page of an endpoint's deliveries with the event type, and their attempts (2 queries)."""
    stmt = (
        clinic_scoped(WebhookDelivery, endpoint.clinic_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .add_columns(WebhookEvent.type)
    )
    stmt = keyset(stmt, [WebhookDelivery.created_at, WebhookDelivery.id], page)
    rows = [(row[0], row[1]) for row in (await db.execute(stmt)).all()]
    return rows, await _attempts_of(db, [delivery.id for delivery, _ in rows[: page.limit]])


async def _attempts_of(
    db: AsyncSession, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookAttempt]]:
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        found = await db.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        for attempt in found.scalars():
            attempts[attempt.delivery_id].append(attempt)
    return attempts


async def event_type_and_attempts(
    db: AsyncSession, delivery: WebhookDelivery
) -> tuple[str, list[WebhookAttempt]]:
    """The event type and the attempts of one delivery."""
    event_type = (
        await db.execute(select(WebhookEvent.type).where(WebhookEvent.id == delivery.event_id))
    ).scalar_one()
    return event_type, (await _attempts_of(db, [delivery.id]))[delivery.id]


async def endpoint_delivery(
    db: AsyncSession, endpoint: WebhookEndpoint, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    """One of the endpoint's deliveries."""
    stmt = clinic_scoped(WebhookDelivery, endpoint.clinic_id).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def requeue(db: AsyncSession, delivery: WebhookDelivery, now: datetime) -> None:
    """Make the delivery due now, whatever its state, and read it back."""
    await db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id)
        .values(
            status=DeliveryStatus.pending.value,
            next_attempt_at=now,
            lease_expires_at=None,
            completed_at=None,
        )
        .execution_options(synchronize_session="fetch")
    )
    await db.refresh(delivery)


async def enabled_endpoint_subscriptions(
    db: AsyncSession, clinic_id: uuid.UUID
) -> Sequence[Row[uuid.UUID, list[str]]]:
    """(id, event_types) of the clinic's enabled endpoints."""
    e = WebhookEndpoint
    query = select(e.id, e.event_types).where(in_clinic(e, clinic_id), e.enabled.is_(True))
    return (await db.execute(query)).all()


async def live_endpoint_subscriptions(
    db: AsyncSession,
) -> Sequence[Row[uuid.UUID, list[str]]]:
    """(clinic_id, event_types) of every enabled, non-deleted endpoint of every clinic."""
    e = WebhookEndpoint
    query = select(e.clinic_id, e.event_types).where(e.enabled.is_(True), e.deleted_at.is_(None))
    return (await db.execute(query)).all()
