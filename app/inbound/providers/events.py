"""The one event every provider's booking webhook becomes, and the parsing pieces they share.

Cal.com, Calendly and our own Standard Webhooks format describe the same three things (a booking
made, moved or cancelled) in three shapes; the service should only ever see one.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from app.common.schemas import ONE_LINE, InputTimestamp
from app.sessions.enums import Location, SessionKind

M = TypeVar("M", bound=BaseModel)


class Provider(StrEnum):
    standard = "standard"
    calcom = "calcom"
    calendly = "calendly"


class BookingAction(StrEnum):
    created = "created"
    rescheduled = "rescheduled"
    cancelled = "cancelled"


@dataclass(frozen=True)
class BookingEvent:
    """One provider booking event, normalized."""

    action: BookingAction
    booking_id: str  # the provider's id of the booking this event is about
    previous_booking_id: str | None  # the booking this one replaces (a reschedule)
    next_booking_id: str | None  # the booking that replaces this one (Calendly's reschedule)
    occurred_at: datetime  # the provider's event time (aware UTC); used to order processing
    event_type_keys: tuple[str, ...]  # event_type_map keys to try, most specific first
    kind: SessionKind | None  # only the standard format can name a kind directly
    starts_at: datetime | None  # aware UTC; None only for a cancellation that carries no times
    ends_at: datetime | None
    attendee_email: str | None  # lower-cased, stripped
    attendee_name: str | None
    organizer_email: str | None  # lower-cased, stripped
    location: Location | None
    cancellation_reason: str | None


@dataclass(frozen=True)
class IgnoredEvent:
    """A verified event this service does not act on (say MEETING_ENDED); stored, not applied."""

    trigger: str
    occurred_at: datetime | None


class SignatureInvalid(Exception):
    """The request is not provably from the provider; the message says why, never the secret."""


class PayloadInvalid(Exception):
    """A verified body this service cannot read; `errors` are shaped like FastAPI's 422 errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))


def body_error(msg: str, type_: str, *loc: str | int) -> PayloadInvalid:
    return PayloadInvalid([{"loc": ["body", *loc], "msg": msg, "type": type_}])


def load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object without NUL characters, else PayloadInvalid."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise body_error("the body is not valid UTF-8", "string_unicode") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise body_error("the body is not valid JSON", "json_invalid") from None
    if not isinstance(data, dict):
        raise body_error("the body must be a JSON object", "dict_type")
    nul_at = _nul_path(data)
    if nul_at is not None:
        # PostgreSQL cannot store U+0000 in text, and no real booking holds one.
        raise body_error("text must not contain NUL (U+0000) characters", "value_error", *nul_at)
    return data


def _nul_path(data: Any) -> list[str | int] | None:
    # Iterative, so that nesting as deep as json.loads allows cannot overflow the stack.
    stack: list[tuple[Any, list[str | int]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return path
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return path
                stack.append((item, [*path, key]))
        elif isinstance(value, list):
            stack.extend((item, [*path, index]) for index, item in enumerate(value))
    return None


def validate(model: type[M], data: Any) -> M:
    """model.model_validate, with a ValidationError turned into PayloadInvalid."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as error:
        raise PayloadInvalid(
            [
                # No `input`: the values are a client's details, and errors get logged.
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in error.errors(include_url=False)
            ]
        ) from None


class ProviderModel(BaseModel):
    """A provider's shape: only the fields we read are declared, the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def event_type_keys(*candidates: str | None) -> tuple[str, ...]:
    return tuple(key for key in candidates if key)


# --- field types ---------------------------------------------------------------------------

_RFC3339_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _rfc3339_text(value: Any) -> Any:
    # Pydantic would also read 1700000000 (or "1700000000") as a Unix time; no provider sends that.
    if not isinstance(value, str) or not _RFC3339_START.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset")
    return value


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


ProviderTime = Annotated[InputTimestamp, BeforeValidator(_rfc3339_text), AfterValidator(_in_utc)]
"""Aware RFC 3339 text, returned in UTC; naive timestamps are refused."""

# Identifiers are one line (no control characters): they are stored, shown and matched on.
BookingId = Annotated[str, StringConstraints(min_length=1, max_length=200), ONE_LINE]
# An event type as a provider sends it and as an integration's event_type_map names it: both
# sides are stripped, so they match. A provider's empty one is tried against nothing
# (event_type_keys); the map refuses an empty key (app/inbound/schemas.py).
EventTypeKey = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), ONE_LINE]
Trigger = Annotated[str, StringConstraints(min_length=1, max_length=80), ONE_LINE]

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=320),
    ONE_LINE,
]
"""An address in our own format: lower-cased, stripped, and required."""


def _loose_email(value: str | None) -> str | None:
    # A provider's odd value must not cost the booking: without a usable address it goes to triage.
    if value is None:
        return None
    value = value.strip().lower()
    return value if 3 <= len(value) <= 320 and ONE_LINE.scrub(value) == value else None


def _clipped(limit: int) -> AfterValidator:
    def clip(value: str | None) -> str | None:
        # Display text is kept, its control characters (line breaks, tabs) turned into spaces.
        value = ONE_LINE.scrub(value).strip() if value is not None else None
        return value[:limit] if value else None

    return AfterValidator(clip)


LooseEmail = Annotated[str | None, AfterValidator(_loose_email)]
"""A provider's address: lower-cased and stripped; empty or absurd becomes None."""
LooseName = Annotated[str | None, _clipped(200)]
"""A provider's display text: stripped, empty becomes None, cut to fit rather than refused."""
LooseReason = Annotated[str | None, _clipped(1000)]


def secret_key(secret: str) -> bytes:
    """The HMAC key of a hex-signing provider: the secret's UTF-8 bytes."""
    # HMAC with an empty key is a signature anyone can make: a blank secret verifies nothing.
    if not secret:
        raise SignatureInvalid("the integration has no signing secret")
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise SignatureInvalid("the integration's signing secret is not valid text") from None
