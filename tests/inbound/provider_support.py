"""Shared by the provider payload tests: fixed instants, secrets, and bodies one edit away.

Not a test module. The provider tests are pure functions (no database, no app); these helpers
build a provider's default body, edit it, and collect the PayloadInvalid errors it raises.
"""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.inbound.providers import PayloadInvalid, Provider, parse
from tests.inbound.payloads import CREATED_AT, calcom_body, calendly_body, standard_body

NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
START = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
CAL_SECRET = "cal-webhook-secret-7Hq2"
CALENDLY_SECRET = "calendly-signing-key-Zr81"
STANDARD_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_STANDARD_SECRET = "whsec_" + base64.b64encode(bytes(range(32, 64))).decode()
INVITEE = "https://api.calendly.com/scheduled_events/EV1/invitees/INV1"
NEW_INVITEE = "https://api.calendly.com/scheduled_events/EV2/invitees/INV2"
EMAIL = "  Maya.Okafor@Example.ORG "
NORMALIZED_EMAIL = "maya.okafor@example.org"


def edited(body: bytes, change: Callable[[dict[str, Any]], object]) -> bytes:
    """The body with `change` applied to its parsed JSON (re-serialized compactly)."""
    document = json.loads(body)
    change(document)
    return json.dumps(document, separators=(",", ":")).encode()


def payload_errors(provider: Provider, body: bytes) -> list[dict[str, Any]]:
    with pytest.raises(PayloadInvalid) as caught:
        parse(provider, body)
    errors = caught.value.errors
    assert errors
    for error in errors:
        assert set(error) == {"loc", "msg", "type"}
        assert error["loc"][0] == "body"
    return errors


def locs(errors: list[dict[str, Any]]) -> list[list[str | int]]:
    return [error["loc"] for error in errors]


def calcom_event(trigger: str = "BOOKING_CREATED", **overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "uid": "bk_1a2b",
        "start": START,
        "end": END,
        "attendee_email": EMAIL,
        "created_at": CREATED_AT,
    }
    return calcom_body(trigger, **(fields | overrides))


def calendly_event(event: str = "invitee.created", **overrides: Any) -> bytes:
    fields: dict[str, Any] = {"invitee_uri": INVITEE, "start": START, "end": END, "email": EMAIL}
    return calendly_body(event, **(fields | overrides))


def standard_event(type_: str = "booking.created", **overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "booking_id": "appt-991",
        "start": START,
        "end": END,
        "attendee_email": EMAIL,
        "kind": "integration",
    }
    return standard_body(type_, **(fields | overrides))
