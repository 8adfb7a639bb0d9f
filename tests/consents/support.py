"""Helpers for the consent tests: recording one through the API as the clinic's admin."""

from datetime import datetime, timedelta
from typing import Any

from tests.support.factories import T0, Clinic

SIGNED = T0 - timedelta(days=3)


def consents_url(client_id: str) -> str:
    return f"/api/v1/clients/{client_id}/consents"


def body(kind: str = "kap_treatment", signed_at: datetime = SIGNED) -> dict[str, Any]:
    return {"kind": kind, "document_version": "KAP consent v3", "signed_at": signed_at.isoformat()}


async def record(
    clinic: Clinic,
    client_id: str,
    kind: str = "kap_treatment",
    signed_at: datetime = SIGNED,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A consent of the client, recorded (201)."""
    payload = body(kind, signed_at) | extra
    return await clinic.ok("POST", consents_url(client_id), 201, json=payload, headers=headers)
