"""Managing webhook endpoints: SSRF-checked URLs, encrypted secrets, rotation, test, resend."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.common.crypto import SecretBox
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, new_id
from app.errors import NotFound, ValidationFailed
from app.events.catalogue import EventType
from app.events.models import WebhookEvent
from app.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.webhooks.schemas import EndpointCreate, EndpointUpdate
from app.webhooks.secrets import new_signing_secret
from app.webhooks.ssrf import AllowedHosts, UnsafeDestination, check_destination

ROTATION_OVERLAP = timedelta(hours=24)


class EndpointNotFound(NotFound):
    title = "Webhook endpoint not found"


class DeliveryNotFound(NotFound):
    title = "Delivery not found"


async def _check_url(url: str, allowed: AllowedHosts) -> None:
    try:
        await check_destination(url, allowed)
    except UnsafeDestination as exc:
        raise ValidationFailed(
            f"The URL is not an allowed destination: {exc}", loc=("body", "url"), kind="unsafe_url"
        ) from exc


async def get_endpoint(
    db: AsyncSession, clinic_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    stmt = clinic_scoped(WebhookEndpoint, clinic_id).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.deleted_at.is_(None)
    )
    endpoint = (await db.execute(stmt)).scalar_one_or_none()
    if endpoint is None:
        raise EndpointNotFound(f"No webhook endpoint {endpoint_id} in this clinic.")
    return endpoint


async def list_endpoints(
    db: AsyncSession, clinic_id: uuid.UUID, page: PageParams
) -> Sequence[WebhookEndpoint]:
    stmt = clinic_scoped(WebhookEndpoint, clinic_id).where(WebhookEndpoint.deleted_at.is_(None))
    stmt = keyset(stmt, [WebhookEndpoint.created_at, WebhookEndpoint.id], page)
    return (await db.execute(stmt)).scalars().all()


async def create_endpoint(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    body: EndpointCreate,
    box: SecretBox,
    allowed: AllowedHosts,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its plaintext secret (returned once, stored sealed)."""
    await _check_url(body.url, allowed)
    secret = new_signing_secret()
    endpoint = WebhookEndpoint(
        clinic_id=clinic_id,
        url=body.url,
        description=body.description,
        event_types=[t.value for t in body.event_types],
        enabled=body.enabled,
        secret_ciphertext=box.seal(secret),
    )
    db.add(endpoint)
    await db.flush()
    note_change("webhook_endpoint", endpoint.id, sorted(body.model_fields_set))
    return endpoint, secret


async def update_endpoint(
    db: AsyncSession, endpoint: WebhookEndpoint, body: EndpointUpdate, allowed: AllowedHosts
) -> WebhookEndpoint:
    changes = body.changes()
    if "url" in changes:
        await _check_url(changes["url"], allowed)
    if "event_types" in changes:
        changes["event_types"] = [EventType(t).value for t in changes["event_types"]]
    if changes.get("enabled") is True:
        changes |= {"disabled_reason": None, "disabled_at": None, "failing_since": None}
    for name, value in changes.items():
        setattr(endpoint, name, value)
    await db.flush()
    note_change("webhook_endpoint", endpoint.id, sorted(body.model_fields_set))
    return endpoint


async def delete_endpoint(db: AsyncSession, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Stop delivering to it; its delivery history stays for the audit."""
    endpoint.deleted_at = now
    endpoint.enabled = False
    await db.flush()
    note_change("webhook_endpoint", endpoint.id, ["deleted_at"])


async def rotate_secret(
    db: AsyncSession, endpoint: WebhookEndpoint, box: SecretBox, now: datetime
) -> str:
    """A new secret; the old one keeps signing beside it for 24 hours."""
    secret = new_signing_secret()
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret_ciphertext = box.seal(secret)
    await db.flush()
    note_change("webhook_endpoint", endpoint.id, ["secret"])
    return secret


async def queue_test_event(
    db: AsyncSession, endpoint: WebhookEndpoint, now: datetime
) -> WebhookDelivery:
    """A webhook.test event for this endpoint alone, delivered like any other."""
    event = WebhookEvent(
        id=new_id(),
        clinic_id=endpoint.clinic_id,
        type=EventType.webhook_test.value,
        occurred_at=now,
        data={"endpoint_id": str(endpoint.id)},
    )
    delivery = WebhookDelivery(
        clinic_id=endpoint.clinic_id,
        event_id=event.id,
        endpoint_id=endpoint.id,
        next_attempt_at=now,
        created_at=now,
    )
    db.add(event)
    await db.flush()  # no ORM relationship orders the two inserts, so the event goes first
    db.add(delivery)
    await db.flush()
    return delivery


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


async def describe_delivery(
    db: AsyncSession, delivery: WebhookDelivery
) -> tuple[str, list[WebhookAttempt]]:
    """The event type and the attempts of one delivery."""
    event_type = (
        await db.execute(select(WebhookEvent.type).where(WebhookEvent.id == delivery.event_id))
    ).scalar_one()
    return event_type, (await _attempts_of(db, [delivery.id]))[delivery.id]


async def resend(
    db: AsyncSession, endpoint: WebhookEndpoint, delivery_id: uuid.UUID, now: datetime
) -> WebhookDelivery:
    """Queue a delivery again, now, with the same webhook-id."""
    stmt = clinic_scoped(WebhookDelivery, endpoint.clinic_id).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id
    )
    delivery = (await db.execute(stmt)).scalar_one_or_none()
    if delivery is None:
        raise DeliveryNotFound(f"No delivery {delivery_id} for this endpoint.")
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
    note_change("webhook_delivery", delivery.id, ["status"])
    return delivery
