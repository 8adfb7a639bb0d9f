"""Helpers of the safety review tests: PHQ-9s recorded through the API, and stored events."""

import uuid
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from app.events.models import WebhookEvent
from tests.support.factories import Clinic, iso

REVIEWS = "/api/v1/safety-reviews"
SELF_HARM = "self_harm_item_positive"
OPENED = "safety_review.opened"


def phq9(item9: int, rest: int = 1) -> list[int]:
    """A PHQ-9 with item 9 scored `item9` and every other item `rest`."""
    return [rest] * 8 + [item9]


async def record_phq9(
    clinic: Clinic, client_id: str, item9: int, at: datetime, **extra: Any
) -> dict[str, Any]:
    body = {"instrument": "phq9", "item_scores": phq9(item9), "administered_at": iso(at), **extra}
    return await clinic.ok("POST", f"/api/v1/clients/{client_id}/assessments", 201, json=body)


async def reviews_of(clinic: Clinic, client_id: str, **params: Any) -> list[dict[str, Any]]:
    page = await clinic.ok("GET", REVIEWS, params={"client_id": client_id, **params})
    assert page["next_cursor"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


async def self_harm_alerts(clinic: Clinic, client_id: str, **kwargs: Any) -> list[dict[str, Any]]:
    journey = await clinic.ok("GET", f"/api/v1/clients/{client_id}/journey", **kwargs)
    return [alert for alert in journey["alerts"] if alert["code"] == SELF_HARM]


async def stored_events(app: FastAPI, clinic: Clinic, event_type: str) -> list[dict[str, Any]]:
    """The `data` of every event of this type stored for the clinic, oldest first."""
    async with app.state.sessionmaker() as db:
        rows = await db.execute(
            select(WebhookEvent.data)
            .where(
                WebhookEvent.clinic_id == uuid.UUID(clinic.id),
                WebhookEvent.type == event_type,
            )
            .order_by(WebhookEvent.occurred_at, WebhookEvent.id)
        )
        return [dict(data) for data in rows.scalars()]
