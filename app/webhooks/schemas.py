"""Webhook endpoint and delivery schemas. Secrets appear once, in create and rotate responses."""

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from app.common.schemas import ONE_LINE, Id, InputModel, OutputModel, PatchModel, UTCTimestamp
from app.events.catalogue import EventType

Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=8, max_length=2048),
    ONE_LINE,
    Field(examples=["https://scheduler.example.com/hooks/kap"]),
]
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, examples=[["integration_window.closing_unbooked", "session.scheduled"]]),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), ONE_LINE]


def _unique(types: list[EventType] | None) -> list[EventType] | None:
    if types is not None and len(set(types)) != len(types):
        raise ValueError("event_types must not repeat")
    return types


class EndpointCreate(InputModel):
    """Subscribe a URL to event types; the signing secret is in the response, once."""

    url: Url
    event_types: EventTypes
    description: Description | None = None
    enabled: bool = True

    _check_types = field_validator("event_types")(_unique)


class EndpointUpdate(PatchModel):
    required_fields = frozenset({"url", "event_types", "enabled"})

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None, description="Re-enabling clears why it was disabled."
    )

    _check_types = field_validator("event_types")(_unique)


class EndpointRead(OutputModel):
    id: Id
    url: str
    event_types: list[EventType]
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(description="Why the service disabled it, if it did.")
    disabled_at: UTCTimestamp | None
    failing_since: UTCTimestamp | None = Field(
        description="Start of the current run of failed deliveries; disabled after 5 days."
    )
    previous_secret_expires_at: UTCTimestamp | None = Field(
        description="Until then the old secret signs beside the new one (after a rotation)."
    )
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class EndpointWithSecret(EndpointRead):
    secret: str = Field(
        description="whsec_… Verify signatures with it. Shown once; store it now.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class AttemptRead(OutputModel):
    id: Id
    attempted_at: UTCTimestamp
    status_code: int | None
    duration_ms: float
    error: str | None
    response_headers_bytes: int | None = Field(
        description="Size of the response's header block; null when no response arrived."
    )
    response_body_bytes: int | None = Field(
        description="Size of the response body as the receiver declared it (`Content-Length`), "
        "only where the operator turned excerpts on (`KAP_WEBHOOK_RESPONSE_EXCERPT_BYTES`); null "
        "by default and when the receiver declared none."
    )
    response_excerpt: str | None = Field(
        description="The start of the response body, only where the operator turned excerpts on "
        "(`KAP_WEBHOOK_RESPONSE_EXCERPT_BYTES`, at most 1 KB); null by default."
    )


class DeliveryRead(OutputModel):
    id: Id
    event_id: Id = Field(description="The webhook-id header of every attempt.")
    event_type: str
    status: str = Field(examples=["pending", "succeeded", "failed"])
    attempt_count: int
    next_attempt_at: UTCTimestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: UTCTimestamp
    completed_at: UTCTimestamp | None
    attempts: list[AttemptRead]
