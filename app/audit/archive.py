"""`kap-journey audit-archive` and `audit-restore` (issue 17): whole months of the audit trail
out to NDJSON files and back.

A month is exported to `audit-events-YYYY-MM.ndjson` (one stored event per line, with its further
resources), written to a temporary name, fsynced, renamed and the folder fsynced; only then are
its rows removed: on PostgreSQL its partitions are dropped, in a transaction that first locks
them and checks that they still hold exactly what was written; on SQLite its rows are deleted.
A re-run redoes a month that is still stored and skips those already gone.
"""

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import partitions
from app.audit.models import AuditEvent
from app.audit.months import AUDIT_TABLES, month_of, next_month, start_of
from app.db import begin_write

BATCH = 1000
EVENT_COLUMNS = [column.key for column in AuditEvent.__table__.columns]


class ArchiveRefused(ValueError):
    """The request would archive part of a month, the current month, or clash with rows."""


@dataclass(frozen=True)
class Archived:
    month: date
    path: Path
    events: int
    resources: int


def file_name(month: date) -> str:
    return f"audit-events-{month.year:04d}-{month.month:02d}.ndjson"


def check_before(before: date, today: date) -> None:
    """Only whole months, and never the current one."""
    if before.day != 1:
        raise ArchiveRefused(
            f"--before {before.isoformat()} would cut {before.strftime('%Y-%m')} in half: "
            "give the first day of a month"
        )
    if before > month_of(today):
        raise ArchiveRefused(
            f"--before {before.isoformat()} would archive the current month: at most "
            f"{month_of(today).isoformat()}"
        )


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


async def _lines(db: AsyncSession, month: date, counts: list[int]) -> Any:
    """The month's NDJSON lines, in (at, id) order; counts events and resources as it goes."""
    after = None
    while True:
        events = await partitions.events_of_month(db, month, after, BATCH)
        if not events:
            return
        further: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for row in await partitions.resources_of(db, events):
            further.setdefault(row.event_id, []).append(
                {
                    "position": row.position,
                    "resource_type": row.resource_type,
                    "resource_id": row.resource_id,
                }
            )
        for event in events:
            line = {column: _json(getattr(event, column)) for column in EVENT_COLUMNS}
            line["resources"] = further.get(event.id, [])
            counts[0] += 1
            counts[1] += len(line["resources"])
            yield (json.dumps(line, separators=(",", ":")) + "\n").encode()
        after = (events[-1].at, events[-1].id)


def _prepare_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _export(db: AsyncSession, month: date, out: Path) -> Archived:
    path = out / file_name(month)
    partial = path.with_suffix(".ndjson.partial")
    counts = [0, 0]
    with partial.open("wb") as file:
        async for line in _lines(db, month, counts):
            file.write(line)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)
    _fsync_folder(out)
    return Archived(month, path, counts[0], counts[1])


async def _months(db: AsyncSession, before: date, partitioned: bool) -> list[date]:
    if partitioned:
        found: set[date] = set()
        for table in AUDIT_TABLES:
            found |= set(await partitions.partition_months(db, table))
        return sorted(m for m in found if m < before)
    month = await partitions.oldest_before(db, before)
    months = []
    while month is not None and month < before:
        months.append(month)
        month = next_month(month)
    return months


async def archive(
    sessionmaker: async_sessionmaker[AsyncSession], before: date, out: Path, today: date
) -> list[Archived]:
    """Export and remove every whole month before `before`; what was archived, oldest first."""
    check_before(before, today)
    _prepare_folder(out)
    async with sessionmaker() as db:
        partitioned = await partitions.is_partitioned(db)
        months = await _months(db, before, partitioned)
    done = []
    for month in months:
        async with sessionmaker() as db:
            if not partitioned and await partitions.count_month(db, month) == (0, 0):
                continue
            archived = await _export(db, month, out)
        async with sessionmaker() as db:
            await begin_write(db)
            if partitioned:
                await partitions.lock_month(db, month)
            if await partitions.count_month(db, month) != (archived.events, archived.resources):
                raise ArchiveRefused(f"{month:%Y-%m} changed while it was exported: run again")
            if partitioned:
                await partitions.drop_month(db, month)
            else:
                await partitions.sqlite_delete_month(db, month)
            await db.commit()
        done.append(archived)
    return done


def _rows(path: Path) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    with path.open("rb") as file:
        for line in file:
            stored = json.loads(line)
            at = datetime.fromisoformat(stored["at"])
            event = {column: stored[column] for column in EVENT_COLUMNS}
            event.update(at=at, id=uuid.UUID(stored["id"]))
            for column in ("clinic_id", "actor_id"):
                event[column] = uuid.UUID(stored[column]) if stored[column] else None
            resources = [
                {**r, "event_id": event["id"], "at": at, "clinic_id": event["clinic_id"]}
                for r in stored["resources"]
            ]
            yield event, resources


async def restore(sessionmaker: async_sessionmaker[AsyncSession], path: Path) -> Archived:
    """Put an archived month back, in one transaction; refused if the month holds rows."""
    month = date.fromisoformat(path.name.removeprefix("audit-events-")[:7] + "-01")
    async with sessionmaker() as db:
        await begin_write(db)
        if await partitions.is_partitioned(db):
            await partitions.create_months(db, [month])
        if await partitions.count_month(db, month) != (0, 0):
            raise ArchiveRefused(f"{month:%Y-%m} already holds audit rows: nothing restored")
        counts = [0, 0]
        events: list[dict[str, Any]] = []
        resources: list[dict[str, Any]] = []
        for event, further in _rows(path):
            if not start_of(month) <= event["at"] < start_of(next_month(month)):
                raise ArchiveRefused(f"{path.name} holds a row outside {month:%Y-%m}")
            events.append(event)
            resources += further
            if len(events) >= BATCH:
                await partitions.insert_month(db, events, resources)
                counts = [counts[0] + len(events), counts[1] + len(resources)]
                events, resources = [], []
        await partitions.insert_month(db, events, resources)
        await db.commit()
    return Archived(month, path, counts[0] + len(events), counts[1] + len(resources))
