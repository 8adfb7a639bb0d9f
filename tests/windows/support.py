"""Helpers of the window tests through the HTTP API, on SQLite and PostgreSQL.

Reads (GET one, journey) evaluate in Python; the list filters, the worklist and the client
`stage` filter evaluate in SQL. The `assert_*` helpers pin both to the same answers.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.factories import Clinic, iso

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)
WINDOW_STATUSES = ("no_ketamine_session", "before_window", "in_window", "after_window")
INTEGRATION_STATUSES = ("not_applicable", "booked_in_window", "unbooked", "missed")
STAGES = ("intake", "preparation", "active_treatment", "maintenance")


def window_alerts(journey: dict[str, Any]) -> set[tuple[str, str]]:
    """The journey's window alerts (dosing-safety alerts have tests of their own)."""
    return {
        (a["code"], a["session_id"])
        for a in journey["alerts"]
        if a["code"].startswith("integration_")
    }


def z(value: datetime) -> str:
    """How the API renders an instant: UTC with Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def window(clinic: Clinic, integration_id: str) -> dict[str, Any]:
    body = await clinic.ok("GET", f"/api/v1/integration-sessions/{integration_id}")
    result: dict[str, Any] = body["window"]
    return result


async def dose_integration(clinic: Clinic, dose_id: str) -> dict[str, Any]:
    body = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{dose_id}")
    result: dict[str, Any] = body["integration"]
    return result


async def walk(clinic: Clinic, url: str, limit: int = 200, **params: str) -> list[dict[str, Any]]:
    """Every item of a list, following cursors; each page must respect the limit."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(500):
        query: dict[str, str | int] = {**params, "limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        page = await clinic.ok("GET", url, params=query)
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == limit, "a page before the last one is full"
    raise AssertionError("pagination did not end")


async def ids(clinic: Clinic, url: str, limit: int = 200, **params: str) -> list[str]:
    return [item["id"] for item in await walk(clinic, url, limit, **params)]


async def windows_filter(clinic: Clinic, status: str, limit: int = 200, **params: str) -> list[str]:
    url = "/api/v1/integration-sessions"
    return await ids(clinic, url, limit, window_status=status, **params)


async def integration_filter(
    clinic: Clinic, status: str, limit: int = 200, **params: str
) -> list[str]:
    url = "/api/v1/ketamine-sessions"
    return await ids(clinic, url, limit, integration_status=status, **params)


async def assert_window(clinic: Clinic, integration_id: str, status: str) -> dict[str, Any]:
    """GET says `status`, and the SQL filter puts the session in that list and no other."""
    evaluated = await window(clinic, integration_id)
    assert evaluated["status"] == status
    for candidate in WINDOW_STATUSES:
        listed = integration_id in await windows_filter(clinic, candidate)
        assert listed == (candidate == status), (candidate, status)
    return evaluated


async def assert_dose(clinic: Clinic, dose_id: str, status: str) -> dict[str, Any]:
    """GET says `status`, and the SQL filter puts the dose in that list and no other."""
    evaluated = await dose_integration(clinic, dose_id)
    assert evaluated["status"] == status
    for candidate in INTEGRATION_STATUSES:
        listed = dose_id in await integration_filter(clinic, candidate)
        assert listed == (candidate == status), (candidate, status)
    return evaluated


async def assert_stage(clinic: Clinic, client_id: str, stage: str) -> None:
    """GET, the journey and the `stage` filter agree on the client's stage."""
    assert (await clinic.ok("GET", f"/api/v1/clients/{client_id}"))["stage"] == stage
    assert (await clinic.ok("GET", f"/api/v1/clients/{client_id}/journey"))["stage"] == stage
    for candidate in STAGES:
        listed = client_id in await ids(clinic, "/api/v1/clients", stage=candidate)
        assert listed == (candidate == stage), (candidate, stage)


async def move(
    clinic: Clinic, kind: str, session_id: str, starts_at: datetime, hours: float = 1
) -> dict[str, Any]:
    body = {"starts_at": iso(starts_at), "ends_at": iso(starts_at + timedelta(hours=hours))}
    return await clinic.ok("PATCH", f"/api/v1/{kind}-sessions/{session_id}", json=body)


async def set_policy(clinic: Clinic, **window_policy: Any) -> dict[str, Any]:
    return await clinic.ok("PATCH", "/api/v1/clinic", json={"window_policy": window_policy})


async def clinician(clinic: Clinic) -> str:
    """Another clinician of the clinic (sessions are booked for them by the admin)."""
    body = {
        "email": f"clinician-{uuid.uuid4().hex[:8]}@kapclinic.org",
        "name": "Dr. Second",
        "role": "clinician",
    }
    member = await clinic.ok("POST", "/api/v1/staff", 201, json=body)
    return str(member["id"])


def ordered(sessions: list[dict[str, Any]]) -> list[str]:
    """Ids in list order: by starts_at, then id."""
    return [s["id"] for s in sorted(sessions, key=lambda s: (at(s["starts_at"]), s["id"]))]
