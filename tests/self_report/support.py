"""Helpers of the self-report tests: links made through the API, forms answered over HTTP, and
what the database holds."""

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.self_report.models import AssessmentRequest
from tests.support.factories import Clinic

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ITEMS = {"phq9": (9, 3), "gad7": (7, 3), "pcl5": (20, 4)}


def requests_url(client_id: str) -> str:
    return f"/api/v1/clients/{client_id}/assessment-requests"


async def create_link(
    clinic: Clinic, client_id: str, instrument: str = "phq9", **body: Any
) -> dict[str, Any]:
    return await clinic.ok(
        "POST", requests_url(client_id), 201, json={"instrument": instrument, **body}
    )


def page_path(link: dict[str, Any]) -> str:
    """The link's path on this server (`/r/<token>`)."""
    path: str = urlsplit(link["url"]).path
    assert path.startswith("/r/kapsr_"), link["url"]
    return path


def token_of(link: dict[str, Any]) -> str:
    return page_path(link).removeprefix("/r/")


def answers(instrument: str, value: int = 1, **overrides: int) -> dict[str, str]:
    """Every item of the instrument answered `value`, but for `itemN=...` overrides."""
    count, _ = ITEMS[instrument]
    form = {f"item{n}": str(value) for n in range(1, count + 1)}
    form.update({name: str(score) for name, score in overrides.items()})
    return form


async def submit(
    http: httpx.AsyncClient, link: dict[str, Any], form: dict[str, str]
) -> httpx.Response:
    """POST the form as a browser does, without any credentials."""
    return await http.post(page_path(link), data=form)


async def stored_link(app: FastAPI, link_id: str) -> AssessmentRequest:
    async with app.state.sessionmaker() as db:
        row: AssessmentRequest | None = await db.get(AssessmentRequest, uuid.UUID(link_id))
        assert row is not None
        return row


async def audit_rows(app: FastAPI, clinic: Clinic, action: str) -> list[AuditEvent]:
    """The clinic's audit rows of one route (its name), oldest first."""
    async with app.state.sessionmaker() as db:
        rows = await db.execute(
            select(AuditEvent)
            .where(AuditEvent.clinic_id == uuid.UUID(clinic.id), AuditEvent.action == action)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        return list(rows.scalars())


def utc(at: datetime) -> str:
    """A timestamp as the API writes it (UTC, `Z`)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
