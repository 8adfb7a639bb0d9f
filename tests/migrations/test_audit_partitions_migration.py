"""Issue 17's audit migrations on existing rows: b17a0d1e2f30 adds audit_event_resources (its
downgrade turns further resources back into rows of their own), and c17b1e2a3d40 moves the
trail into monthly partitions on PostgreSQL, keeping every row, and back again."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.audit.schemas import item_id
from app.db import UTCDateTime
from app.migrate import downgrade, upgrade

pytestmark = pytest.mark.api  # migrations on each backend

BEFORE = "a15c2d3e4f50"  # one row per resource
RESOURCES = "b17a0d1e2f30"  # audit_event_resources
PARTITIONED = "c17b1e2a3d40"
OLD = datetime(2025, 11, 20, 8, 0, tzinfo=UTC)

EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("at", UTCDateTime()),
    sa.column("action", sa.String()),
    sa.column("resource_type", sa.String()),
    sa.column("resource_id", sa.String()),
    sa.column("request_id", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("status_code", sa.Integer()),
    sa.column("changed_fields", sa.JSON()),
)
FURTHER = sa.table(
    "audit_event_resources",
    sa.column("event_id", sa.Uuid()),
    sa.column("position", sa.SmallInteger()),
    sa.column("at", UTCDateTime()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("resource_type", sa.String()),
    sa.column("resource_id", sa.String()),
)


def _event(at: datetime, resource_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "clinic_id": None,
        "at": at,
        "action": "get_journey",
        "resource_type": "client",
        "resource_id": resource_id,
        "request_id": uuid.uuid4().hex,
        "outcome": "success",
        "status_code": 200,
        "changed_fields": None,
        **extra,
    }


async def _run(url: str, *statements: Any) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            results = [await connection.execute(s) for s in statements]
            return [r.all() if r.returns_rows else None for r in results]
    finally:
        await engine.dispose()


async def _items(url: str) -> set[tuple[Any, ...]]:
    [events, further] = await _run(
        url,
        sa.select(EVENTS.c.id, EVENTS.c.resource_id, EVENTS.c.at),
        sa.select(FURTHER.c.event_id, FURTHER.c.position, FURTHER.c.resource_id),
    )
    return {(e.id, e.resource_id, e.at) for e in events} | {
        (f.event_id, f.position, f.resource_id) for f in further
    }


async def _partition_of(url: str, event_id: uuid.UUID) -> str:
    [[(name,)]] = await _run(
        url,
        sa.text("SELECT tableoid::regclass::text FROM audit_events WHERE id = :id").bindparams(
            id=event_id
        ),
    )
    return str(name)


async def test_existing_rows_survive_both_ways(scratch_url: str) -> None:
    postgres = scratch_url.startswith("postgresql")
    await asyncio.to_thread(upgrade, scratch_url, BEFORE)
    single = _event(OLD, "client-a", action="create_client", changed_fields=["first_name"])
    await _run(scratch_url, sa.insert(EVENTS).values([single]))

    await asyncio.to_thread(upgrade, scratch_url, RESOURCES)
    read = _event(OLD.replace(month=12), "client-b")
    now = _event(datetime.now(UTC), "client-c")
    further = [
        {
            "event_id": read["id"],
            "position": n,
            "at": read["at"],
            "clinic_id": None,
            "resource_type": "session",
            "resource_id": f"session-{n}",
        }
        for n in (1, 2)
    ]
    await _run(
        scratch_url, sa.insert(EVENTS).values([read, now]), sa.insert(FURTHER).values(further)
    )
    stored = await _items(scratch_url)

    await asyncio.to_thread(upgrade, scratch_url, PARTITIONED)
    assert await _items(scratch_url) == stored
    if postgres:
        assert await _partition_of(scratch_url, single["id"]) == "audit_events_y2025m11"
        assert await _partition_of(scratch_url, read["id"]) == "audit_events_y2025m12"
        month = datetime.now(UTC)
        assert await _partition_of(scratch_url, now["id"]) == (
            f"audit_events_y{month.year}m{month.month:02d}"
        )
        # The append-only guard holds on the partitioned table too.
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await _run(scratch_url, sa.delete(EVENTS))

    await asyncio.to_thread(downgrade, scratch_url, RESOURCES)
    assert await _items(scratch_url) == stored
    await asyncio.to_thread(downgrade, scratch_url, BEFORE)
    [rows] = await _run(
        scratch_url, sa.select(EVENTS.c.id, EVENTS.c.resource_id, EVENTS.c.request_id)
    )
    by_id = {row.id: row for row in rows}
    # Each further resource is a row of its own again, with the id the list showed for it.
    for n in (1, 2):
        row = by_id[item_id(read["id"], n)]
        assert (row.resource_id, row.request_id) == (f"session-{n}", read["request_id"])
    assert len(rows) == 5
    await asyncio.to_thread(upgrade, scratch_url)
