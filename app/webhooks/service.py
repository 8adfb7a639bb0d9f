"""Managing webhook endpoints: SSRF-checked URLs, encrypted secrets, rotation, test, resend."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.common.crypto import SecretBox
from app.db import new_id
from app.errors import NotFound, ValidationFailed
from app.events.catalogue import EventType
from app.events.models import WebhookEvent
from app.webhooks import repository
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
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
    endpoint = await repository.endpoint(db, clinic_id, endpoint_id)
    if endpoint is None:
        raise EndpointNotFound(f"No webhook endpoint {endpoint_id} in this clinic.")
    return endpoint


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


async def resend(
    db: AsyncSession, endpoint: WebhookEndpoint, delivery_id: uuid.UUID, now: datetime
) -> WebhookDelivery:
    """Queue a delivery again, now, with the same webhook-id."""
    delivery = await repository.endpoint_delivery(db, endpoint, delivery_id)
    if delivery is None:
        raise DeliveryNotFound(f"No delivery {delivery_id} for this endpoint.")
    await repository.requeue(db, delivery, now)
    note_change("webhook_delivery", delivery.id, ["status"])
    return delivery
