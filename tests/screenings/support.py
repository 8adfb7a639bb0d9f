"""Screening bodies and calls shared by the screening tests."""

from datetime import datetime
from typing import Any

import httpx

from app.screenings.schemas import CONTRAINDICATION_CODES
from tests.support.factories import T0, Clinic, iso

NONE_PRESENT = dict.fromkeys(CONTRAINDICATION_CODES, False)


def body(decision: str = "cleared", screened_at: datetime = T0, **overrides: Any) -> dict[str, Any]:
    """A screening with no contraindication present, screened at `screened_at`."""
    return {
        "screened_at": iso(screened_at),
        "contraindications": dict(NONE_PRESENT),
        "decision": decision,
        **overrides,
    }


def url(client_id: str) -> str:
    return f"/api/v1/clients/{client_id}/screenings"


async def post(
    clinic: Clinic, client_id: str, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    return await clinic.post(url(client_id), json=body(**fields), headers=headers)


async def record(
    clinic: Clinic, client_id: str, headers: dict[str, str] | None = None, **fields: Any
) -> dict[str, Any]:
    """A screening recorded through the API (201), by the admin unless `headers` say."""
    return await clinic.ok("POST", url(client_id), 201, json=body(**fields), headers=headers)
