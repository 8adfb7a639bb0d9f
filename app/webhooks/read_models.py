"""Webhook endpoint and delivery rows as API responses."""

from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import AttemptRead, DeliveryRead, EndpointRead, EndpointWithSecret


def endpoint_with_secret(endpoint: WebhookEndpoint, secret: str) -> EndpointWithSecret:
    """The endpoint with its plaintext secret: only in the answer that made the secret."""
    return EndpointWithSecret.model_validate(
        {**EndpointRead.model_validate(endpoint).model_dump(), "secret": secret}
    )


def delivery_read(
    delivery: WebhookDelivery, event_type: str, attempts: list[WebhookAttempt]
) -> DeliveryRead:
    return DeliveryRead.model_validate(
        {
            **{c.key: getattr(delivery, c.key) for c in WebhookDelivery.__table__.columns},
            "event_type": event_type,
            "attempts": [AttemptRead.model_validate(a) for a in attempts],
        }
    )
