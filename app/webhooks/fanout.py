"""Webhooks' subscription to events: one delivery per enabled endpoint subscribed to its type.

The entry points (`app.main.create_app`, `app.cli.main`) subscribe `WEBHOOK_FAN_OUT` to
`app.events` before anything is emitted, so events never import webhooks and the deliveries are
written with the event, in the emitter's transaction: nothing acknowledged is ever lost.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.catalogue import EventType
from app.events.models import WebhookEvent
from app.webhooks import repository
from app.webhooks.models import WebhookDelivery


class WebhookFanOut:
    """The `app.events.service.Subscriber` of webhooks."""

    async def deliveries(self, db: AsyncSession, event: WebhookEvent) -> list[WebhookDelivery]:
        """A pending delivery, due now, to every enabled endpoint subscribed to the event."""
        endpoints = await repository.enabled_endpoint_subscriptions(db, event.clinic_id)
        return [
            WebhookDelivery(
                clinic_id=event.clinic_id,
                event_id=event.id,
                endpoint_id=endpoint.id,
                next_attempt_at=event.occurred_at,
                created_at=event.occurred_at,
            )
            for endpoint in endpoints
            if event.type in endpoint.event_types
        ]

    async def subscribed_types(
        self, db: AsyncSession, event_types: Collection[EventType]
    ) -> dict[uuid.UUID, set[EventType]]:
        """Per clinic, which of these event types a live endpoint subscribes to."""
        subscribed: dict[uuid.UUID, set[EventType]] = defaultdict(set)
        for row in await repository.live_endpoint_subscriptions(db):
            types = set(row.event_types or ())
            subscribed[row.clinic_id].update(event for event in event_types if event.value in types)
        return subscribed


WEBHOOK_FAN_OUT = WebhookFanOut()
