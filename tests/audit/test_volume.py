"""What a read costs the audit trail (issue 17): a journey read is one audit_events row that
names the client, plus one narrow audit_event_resources row per further resource shown; and the
list still answers every read of every resource, one item per (event, resource)."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEvent, AuditEventResource
from tests.support.factories import T0, Clinic

SESSIONS = 12


async def _journey(clinic: Clinic) -> tuple[dict[str, Any], list[str]]:
    client = await clinic.client()
    sessions = [
        (await clinic.prep(client["id"], T0 - timedelta(days=30 - n)))["id"]
        for n in range(SESSIONS)
    ]
    return client, sessions


async def _rows(app: FastAPI, request_id: str) -> tuple[int, int]:
    async with app.state.sessionmaker() as db:
        events = await db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.request_id == request_id)
        )
        ids = select(AuditEvent.id).where(AuditEvent.request_id == request_id)
        further = await db.scalar(
            select(func.count())
            .select_from(AuditEventResource)
            .where(AuditEventResource.event_id.in_(ids))
        )
    return events or 0, further or 0


async def _items(clinic: Clinic, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 5, **params, **({"cursor": cursor} if cursor else {})}
        page = await clinic.ok("GET", "/api/v1/audit-events", params=query)
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def test_a_journey_read_is_one_audit_row(clinic: Clinic, app: FastAPI) -> None:
    client, sessions = await _journey(clinic)
    response = await clinic.get(f"/api/v1/clients/{client['id']}/journey")
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    assert await _rows(app, request_id) == (1, SESSIONS)
    # Paged five at a time, the list still shows the client and every session, once each.
    items = await _items(clinic, request_id=request_id, action="get_journey")
    mine = [i for i in items if i["request_id"] == request_id]
    assert [i["resource_id"] for i in mine] == [client["id"], *sessions]
    assert {i["resource_type"] for i in mine[1:]} == {"session"}
    assert len({i["id"] for i in mine}) == len(mine)
    assert {i["changed_fields"] for i in mine} == {None}


async def test_every_read_of_a_resource_is_found_by_its_id(clinic: Clinic) -> None:
    client, sessions = await _journey(clinic)
    reads = []
    for url in [f"/api/v1/clients/{client['id']}/journey"] * 2 + [
        f"/api/v1/preparation-sessions/{sessions[5]}"
    ]:
        clinic.clock.advance(timedelta(seconds=1))  # the list is in order of time
        reads.append(await clinic.get(url))
    found = await _items(clinic, resource_id=sessions[5])
    actions = [(i["action"], i["request_id"]) for i in found if i["outcome"] == "success"]
    assert actions[-3:] == [
        ("get_journey", reads[0].headers["X-Request-ID"]),
        ("get_journey", reads[1].headers["X-Request-ID"]),
        ("get_preparation_session", reads[2].headers["X-Request-ID"]),
    ]
    assert {i["resource_id"] for i in found} == {sessions[5]}
    # The other filters apply to the further resources of a row as to its first.
    journey_sessions = await _items(
        clinic, resource_type="session", action="get_journey", since=T0.isoformat()
    )
    assert {i["resource_id"] for i in journey_sessions} == set(sessions)
    later = await _items(
        clinic, resource_type="session", action="get_journey", until="2000-01-01T00:00:00Z"
    )
    assert later == []


async def test_the_export_lists_every_item(clinic: Clinic) -> None:
    client, sessions = await _journey(clinic)
    response = await clinic.get(f"/api/v1/clients/{client['id']}/journey")
    request_id = response.headers["X-Request-ID"]
    export = await clinic.get("/api/v1/audit-events/export", params={"action": "get_journey"})
    lines = [line for line in export.text.splitlines() if request_id in line]
    assert len(lines) == 1 + SESSIONS
    assert sessions[-1] in lines[-1]


async def test_further_resources_are_append_only(clinic: Clinic, app: FastAPI) -> None:
    client, _ = await _journey(clinic)
    await clinic.get(f"/api/v1/clients/{client['id']}/journey")
    for statement in (
        update(AuditEventResource).values(resource_id="tampered"),
        delete(AuditEventResource),
    ):
        async with app.state.sessionmaker() as db:
            with pytest.raises(DBAPIError, match="append-only"):
                await db.execute(statement)
