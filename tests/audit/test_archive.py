"""`audit-archive` and `audit-restore` (issue 17) on real databases: whole months out to NDJSON
files and removed (PostgreSQL: their partitions dropped; SQLite: their rows deleted), later
months untouched, a re-run a no-op, half months and the current month refused, and a month put
back from its file."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.audit.archive import ArchiveRefused, archive, restore
from app.audit.models import AuditEvent, AuditEventResource
from app.audit.partitions import create_months, is_partitioned, partition_months
from app.migrate import upgrade
from tests.support import databases

pytestmark = pytest.mark.api

TODAY = date(2026, 12, 4)
JAN, FEB, MAR = (datetime(2025, m, 10, 9, 30, tzinfo=UTC) for m in (1, 2, 3))


@pytest.fixture(params=["sqlite", "postgresql"])
async def maker(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'archive.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_async_engine(url)
        yield async_sessionmaker(engine, expire_on_commit=False)
        await engine.dispose()
        return
    async with databases.scratch_postgres() as url:
        engine = create_async_engine(url)
        yield async_sessionmaker(engine, expire_on_commit=False)
        await engine.dispose()


def _event(at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "at": at,
        "actor_id": uuid.uuid4(),
        "actor_role": "clinician",
        "action": "get_journey",
        "resource_type": "client",
        "resource_id": str(uuid.uuid4()),
        "request_id": uuid.uuid4().hex,
        "ip": "127.0.0.1",
        "outcome": "success",
        "status_code": 200,
        "changed_fields": None,
        **extra,
    }


async def _store(maker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    journey = _event(JAN)
    further = [
        {
            "event_id": journey["id"],
            "position": n,
            "at": JAN,
            "clinic_id": None,
            "resource_type": "session",
            "resource_id": f"session-{n}",
        }
        for n in (1, 2)
    ]
    change = _event(JAN.replace(day=31, hour=23), action="update_client", changed_fields=["notes"])
    feb, mar = _event(FEB), _event(MAR)
    async with maker() as db:
        if await is_partitioned(db):
            await create_months(db, [date(2025, m, 1) for m in (1, 2, 3)])
        await db.execute(insert(AuditEvent), [journey, change, feb, mar])
        await db.execute(insert(AuditEventResource), further)
        await db.commit()
    return {"journey": journey, "change": change, "feb": feb, "mar": mar}


async def _ids(maker: async_sessionmaker[AsyncSession]) -> tuple[set[uuid.UUID], int]:
    async with maker() as db:
        ids = set((await db.scalars(select(AuditEvent.id))).all())
        further = await db.scalar(select(func.count()).select_from(AuditEventResource))
    return ids, further or 0


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.glob("*.ndjson*")}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_archive_exports_whole_months_and_removes_them(
    maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    stored = await _store(maker)
    out = tmp_path / "archive"
    done = await archive(maker, date(2025, 3, 1), out, TODAY)
    assert [(a.month, a.events, a.resources) for a in done] == [
        (date(2025, 1, 1), 2, 2),
        (date(2025, 2, 1), 1, 0),
    ]
    january = _lines(out / "audit-events-2025-01.ndjson")
    assert [line["id"] for line in january] == [
        str(stored["journey"]["id"]),
        str(stored["change"]["id"]),
    ]
    first = january[0]
    assert first["at"] == "2025-01-10T09:30:00Z"
    assert (first["action"], first["resource_id"]) == (
        "get_journey",
        stored["journey"]["resource_id"],
    )
    assert first["resources"] == [
        {"position": 1, "resource_type": "session", "resource_id": "session-1"},
        {"position": 2, "resource_type": "session", "resource_id": "session-2"},
    ]
    assert january[1]["changed_fields"] == ["notes"]
    assert [line["id"] for line in _lines(out / "audit-events-2025-02.ndjson")] == [
        str(stored["feb"]["id"])
    ]
    # March is intact; January and February are gone (on PostgreSQL with their partitions).
    assert await _ids(maker) == ({stored["mar"]["id"]}, 0)
    async with maker() as db:
        if await is_partitioned(db):
            for table in ("audit_events", "audit_event_resources"):
                months = await partition_months(db, table)
                assert date(2025, 3, 1) in months
                assert not {date(2025, 1, 1), date(2025, 2, 1)} & set(months)

    # Again: nothing to do, and the files stay as they were.
    before = _files(out)
    assert await archive(maker, date(2025, 3, 1), out, TODAY) == []
    assert _files(out) == before


async def test_a_month_comes_back_from_its_file(
    maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    stored = await _store(maker)
    await archive(maker, date(2025, 2, 1), tmp_path, TODAY)
    restored = await restore(maker, tmp_path / "audit-events-2025-01.ndjson")
    assert (restored.events, restored.resources) == (2, 2)
    ids = {stored[k]["id"] for k in ("journey", "change", "feb", "mar")}
    assert await _ids(maker) == (ids, 2)
    async with maker() as db:
        row = await db.get(AuditEvent, stored["journey"]["id"])
        assert row is not None
        assert (row.at, row.actor_id, row.ip) == (JAN, stored["journey"]["actor_id"], "127.0.0.1")
    with pytest.raises(ArchiveRefused, match="already holds"):
        await restore(maker, tmp_path / "audit-events-2025-01.ndjson")
    # Archived again (as after a crash between the file and the drop): the same file.
    first = _files(tmp_path)
    assert [a.month for a in await archive(maker, date(2025, 2, 1), tmp_path, TODAY)] == [
        date(2025, 1, 1)
    ]
    assert _files(tmp_path) == first


@pytest.mark.parametrize(
    ("before", "message"),
    [(date(2025, 2, 15), "cut 2025-02 in half"), (date(2027, 1, 1), "current month")],
)
async def test_half_months_and_the_current_month_are_refused(
    maker: async_sessionmaker[AsyncSession], tmp_path: Path, before: date, message: str
) -> None:
    await _store(maker)
    with pytest.raises(ArchiveRefused, match=message):
        await archive(maker, before, tmp_path, TODAY)
    assert len((await _ids(maker))[0]) == 4
    assert _files(tmp_path) == {}
