"""Signed Cal.com deliveries and a dosed client, shared by the provider tests."""

from datetime import datetime, timedelta
from typing import Any

from tests.inbound.payloads import calcom_body, calcom_headers
from tests.inbound.support import CLIENT_EMAIL, SECRETS
from tests.support.factories import T0, Clinic

HOUR = timedelta(hours=1)
SECRET = SECRETS["calcom"]


async def dosed_client(clinic: Clinic, email: str = CLIENT_EMAIL) -> dict[str, Any]:
    """A client whose IV dose ended at T0 - 22 h: the window closes at T0 + 50 h."""
    client = await clinic.prepared_client(email=email)
    dose = await clinic.dose(client["id"], T0 - timedelta(days=1))
    await clinic.action("ketamine", dose["id"], "complete")
    return client


def signed(trigger: str, uid: str, start: datetime, **extra: Any) -> tuple[bytes, dict[str, str]]:
    body = calcom_body(
        trigger,
        uid=uid,
        start=start,
        end=start + HOUR,
        attendee_email=extra.pop("attendee_email", CLIENT_EMAIL),
        **extra,
    )
    return body, calcom_headers(SECRET, body)


def created(uid: str, start: datetime, **extra: Any) -> tuple[bytes, dict[str, str]]:
    return signed("BOOKING_CREATED", uid, start, **extra)


def rescheduled(uid: str, old: str, start: datetime, **extra: Any) -> tuple[bytes, dict[str, str]]:
    return signed("BOOKING_RESCHEDULED", uid, start, reschedule_uid=old, **extra)


def cancelled(uid: str, start: datetime, **extra: Any) -> tuple[bytes, dict[str, str]]:
    return signed("BOOKING_CANCELLED", uid, start, **extra)
