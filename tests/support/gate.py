"""What the dosing gate reads, recorded over the API: screenings and consents of a client."""

from datetime import datetime, timedelta
from typing import Any

from app.screenings.schemas import CONTRAINDICATION_CODES
from tests.support.factories import T0, Clinic, iso


async def unscreened_client(clinic: Clinic) -> dict[str, Any]:
    """A client with a completed preparation session and nothing else on record."""
    client = await clinic.client()
    prep = await clinic.prep(client["id"], T0 - timedelta(days=10))
    await clinic.action("preparation", prep["id"], "complete")
    return client


async def screen(clinic: Clinic, client: dict[str, Any], at: datetime, decision: str) -> None:
    body = {
        "screened_at": iso(at),
        "contraindications": dict.fromkeys(CONTRAINDICATION_CODES, False),
        "decision": decision,
    }
    await clinic.ok("POST", f"/api/v1/clients/{client['id']}/screenings", 201, json=body)


async def consent(
    clinic: Clinic, client: dict[str, Any], kind: str, at: datetime, **extra: Any
) -> dict[str, Any]:
    body = {"kind": kind, "document_version": "2026-01", "signed_at": iso(at), **extra}
    return await clinic.ok("POST", f"/api/v1/clients/{client['id']}/consents", 201, json=body)
