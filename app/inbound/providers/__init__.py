"""Provider webhooks in, one normalized BookingEvent out: verify the raw body, then parse it.

Each provider module knows its own signature scheme and body shape; nothing past this package
needs to know which provider a booking came from, beyond the event's booking ids.
"""

from collections.abc import Callable, Mapping
from datetime import datetime

from app.inbound.providers import calcom, calendly, standard
from app.inbound.providers.events import (
    BookingAction,
    BookingEvent,
    IgnoredEvent,
    PayloadInvalid,
    Provider,
    SignatureInvalid,
)

__all__ = [
    "BookingAction",
    "BookingEvent",
    "IgnoredEvent",
    "PayloadInvalid",
    "Provider",
    "SignatureInvalid",
    "parse",
    "verify",
]

_Verifier = Callable[[str, bytes, Mapping[str, str], datetime], str | None]
_VERIFIERS: dict[Provider, _Verifier] = {
    Provider.standard: standard.verify,
    Provider.calcom: calcom.verify,
    Provider.calendly: calendly.verify,
}
_PARSERS: dict[Provider, Callable[[bytes], BookingEvent | IgnoredEvent]] = {
    Provider.standard: standard.parse,
    Provider.calcom: calcom.parse,
    Provider.calendly: calendly.parse,
}


def verify(
    provider: Provider, secret: str, body: bytes, headers: Mapping[str, str], now: datetime
) -> str | None:
    """Check the provider's signature on the raw body; return the provider's delivery id when it
    has one (standard: the webhook-id header), else None. Raises SignatureInvalid."""
    # Starlette's Headers are case-insensitive already; a plain dict may not be.
    lowered = {name.lower(): value for name, value in headers.items()}
    return _VERIFIERS[provider](secret, body, lowered, now)


def parse(provider: Provider, body: bytes) -> BookingEvent | IgnoredEvent:
    """Read a verified body. Raises PayloadInvalid for non-JSON, non-object, or a supported trigger
    with a malformed shape; other triggers come back as IgnoredEvent."""
    return _PARSERS[provider](body)
