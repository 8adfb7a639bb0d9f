"""The audit rows of one unit of work, inserted on its connection with Core statements.

Core, not the ORM's bulk-insert path, which cost more than the statements (docs/performance.md);
on PostgreSQL each statement goes straight through the driver adapter (app/db_direct.py).
Every column is sent, NULLs included, so each insert has one shape and one prepared statement.
"""

from typing import Any

from sqlalchemy import SmallInteger, String, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent, AuditEventResource
from app.audit.trail import AuditRows
from app.db_direct import execute

_EVENTS = AuditEvent.metadata.tables[AuditEvent.__tablename__]
_RESOURCES = AuditEvent.metadata.tables[AuditEventResource.__tablename__]

_INSERT_EVENTS = insert(_EVENTS)
_INSERT_RESOURCES = insert(_RESOURCES)


def _resources_from_arrays() -> Any:
    """PostgreSQL: a request's further resources as one INSERT ... SELECT over three arrays.

    A worklist reads about a hundred sessions: as an executemany that is a hundred bound rows,
    each processed in Python and executed apart by the server; here it is three arrays (each
    row's position, type and id) and one statement. The rows' event, time and clinic are the
    same for all: they are the one event of `AuditTrail.rows` that lists what the work read."""
    further = (
        func.unnest(
            bindparam("positions", type_=ARRAY(SmallInteger)),
            bindparam("resource_types", type_=ARRAY(String)),
            bindparam("resource_ids", type_=ARRAY(String)),
        )
        .table_valued("position", "resource_type", "resource_id")
        .render_derived(name="further")
    )
    return _INSERT_RESOURCES.from_select(
        ["event_id", "position", "at", "clinic_id", "resource_type", "resource_id"],
        select(
            bindparam("event_id", type_=_RESOURCES.c.event_id.type),
            further.c.position,
            bindparam("at", type_=_RESOURCES.c.at.type),
            bindparam("clinic_id", type_=_RESOURCES.c.clinic_id.type),
            further.c.resource_type,
            further.c.resource_id,
        ),
    )


_INSERT_RESOURCES_FROM_ARRAYS = _resources_from_arrays()


async def insert_rows(db: AsyncSession, rows: AuditRows) -> None:
    """The unit of work's audit rows: its events, then the further resources of its read."""
    events, resources = rows.events, rows.resources
    if len(events) == 1:  # every read: one statement, sent as the reads are (app/db_direct.py)
        await execute(db, _INSERT_EVENTS, events[0])
    else:
        await (await db.connection()).execute(_INSERT_EVENTS, events)
    if not resources:
        return
    if db.get_bind().dialect.name != "postgresql":  # SQLite has no arrays: a row per resource
        await (await db.connection()).execute(_INSERT_RESOURCES, resources)
        return
    first = resources[0]  # all belong to the one event that lists what the work read
    await execute(
        db,
        _INSERT_RESOURCES_FROM_ARRAYS,
        {
            "event_id": first["event_id"],
            "at": first["at"],
            "clinic_id": first["clinic_id"],
            "positions": [row["position"] for row in resources],
            "resource_types": [row["resource_type"] for row in resources],
            "resource_ids": [row["resource_id"] for row in resources],
        },
    )
