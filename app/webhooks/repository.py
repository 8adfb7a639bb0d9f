"""Statements of the webhooks domain."""

import uuid
from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import in_clinic
from app.webhooks.models import WebhookEndpoint


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
