"""Scheduling integrations, inbound deliveries and unmatched bookings as the API shows them."""

import base64
import binascii
import uuid
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator

from app.common.schemas import Id, InputModel, OutputModel, PatchModel, ShortText, UTCTimestamp
from app.inbound.providers import Provider
from app.inbound.providers.events import EventTypeKey
from app.sessions.enums import Route, SessionKind

MAX_MAPPED_EVENT_TYPES = 200
EventTypeMap = Annotated[
    dict[EventTypeKey, SessionKind],
    Field(
        description="Provider event type → session kind. Cal.com: the event type id or its "
        "slug; Calendly: the event type URI or its name; standard: the `event_type` you send.",
        examples=[{"41": "integration", "ketamine-iv": "ketamine", "prep-60": "preparation"}],
    ),
]
SigningSecret = Annotated[
    SecretStr,
    Field(
        description="Write-only. Cal.com: the secret you typed into the webhook; Calendly: the "
        "subscription's signing key; standard: a `whsec_` secret. Stored encrypted, never shown.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ),
]


def check_secret(provider: Provider, secret: str) -> None:
    """A secret the provider can actually sign with, and long enough to be worth having."""
    if provider is Provider.standard:
        try:
            raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if not secret.startswith("whsec_") or not 24 <= len(raw) <= 64:
            raise ValueError("a standard secret is whsec_ + base64 of 24 to 64 random bytes")
    elif not 16 <= len(secret) <= 256 or not secret.isprintable():
        raise ValueError("the signing secret must be 16 to 256 printable characters")


def _check_map(value: dict[str, SessionKind] | None) -> dict[str, SessionKind] | None:
    if value is not None and len(value) > MAX_MAPPED_EVENT_TYPES:
        raise ValueError(f"map at most {MAX_MAPPED_EVENT_TYPES} event types")
    if value is not None and "" in value:
        # A blank key (after stripping) would never match: no event is tried against it.
        raise ValueError("an event type key must not be empty")
    return value


class IntegrationCreate(InputModel):
    """Connect a scheduler; point its webhook at the `inbound_url` of the response."""

    provider: Provider
    name: ShortText = Field(examples=["Front desk Cal.com"])
    signing_secret: SigningSecret
    event_type_map: EventTypeMap = Field(default_factory=dict)
    default_clinician_id: uuid.UUID | None = Field(
        default=None,
        description="Runs sessions whose organizer email matches no active clinician.",
    )
    default_route: Route | None = Field(
        default=None, description="The route of doses booked through it (needed to map doses)."
    )

    _check_map = field_validator("event_type_map")(_check_map)

    @model_validator(mode="after")
    def _secret_fits_provider(self) -> "IntegrationCreate":
        check_secret(self.provider, self.signing_secret.get_secret_value())
        return self


class IntegrationUpdate(PatchModel):
    """Rename, remap, change the defaults or replace the signing secret."""

    required_fields = frozenset({"name", "signing_secret", "event_type_map"})

    name: ShortText | None = None
    signing_secret: SigningSecret | None = None
    event_type_map: EventTypeMap | None = None
    default_clinician_id: uuid.UUID | None = None
    default_route: Route | None = None

    _check_map = field_validator("event_type_map")(_check_map)


class IntegrationRead(OutputModel):
    id: Id
    provider: Provider
    name: str
    event_type_map: dict[str, SessionKind]
    default_clinician_id: Id | None
    default_route: Route | None
    inbound_url: str = Field(
        description="Where the provider posts: prefix it with this service's public address.",
        examples=["/api/v1/inbound/2f1d6c1e-2b7a-4c1f-9a50-2a3c1e8d9b10"],
    )
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class InboundAccepted(OutputModel):
    """The delivery is stored; the worker applies it shortly."""

    delivery_id: Id
    status: str = Field(examples=["pending", "ignored"])
    duplicate: bool = Field(description="True when this exact delivery was received before.")


class InboundDeliveryRead(OutputModel):
    id: Id
    trigger: str = Field(
        description="created, rescheduled or cancelled; an ignored event keeps the provider's "
        "own name for it.",
        examples=["rescheduled", "MEETING_ENDED"],
    )
    booking_id: str | None
    occurred_at: UTCTimestamp | None = Field(description="When the provider says it happened.")
    received_at: UTCTimestamp
    status: str = Field(examples=["pending", "applied", "unmatched", "ignored"])
    outcome: str | None = Field(description="What processing did, or why it could not.")
    session_id: Id | None
    attempt_count: int
    last_error: str | None
    processed_at: UTCTimestamp | None


class UnmatchedBookingRead(OutputModel):
    id: Id
    integration_id: Id
    status: str = Field(examples=["open", "resolved", "dismissed", "withdrawn"])
    reason: str = Field(
        description="Why it could not be applied: unknown_client, ambiguous_client, "
        "unknown_clinician, unmapped_event_type, no_default_route, schedule_conflict, "
        "preparation_required, client_archived, invalid_transition (the provider moved a "
        "completed, no-show or staff-cancelled session), invalid_booking (e.g. over 12 hours).",
        examples=["unknown_client"],
    )
    detail: str
    booking_id: str = Field(description="The provider's current id for the booking.")
    kind: SessionKind | None
    event_type: str | None
    starts_at: UTCTimestamp | None
    ends_at: UTCTimestamp | None
    attendee_email: str | None
    attendee_name: str | None
    organizer_email: str | None
    session_id: Id | None
    resolved_by: Id | None
    resolved_at: UTCTimestamp | None
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


class ResolveBody(InputModel):
    """Apply the booking for this client; later reschedules of it follow the same choice."""

    client_id: uuid.UUID
    clinician_id: uuid.UUID | None = Field(
        default=None, description="Overrides the organizer / default clinician."
    )
    kind: SessionKind | None = Field(
        default=None, description="Overrides the event type map (for unmapped event types)."
    )
