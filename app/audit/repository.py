"""SQL for reading the audit trail (it is only ever inserted into by the unit of work).

A stored event covers one resource on its own row (position 0) and any further ones as
`audit_event_resources` rows (positions 1..n). Lists show one item per (event, resource) in
(at, id, position) order: each table is read in that order by its own index, at most a page
of each, and the two are merged here, so a page costs two short index scans however large the
trail (a UNION sorted by the database would sort every match first).
"""

import heapq
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    literal,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent, AuditEventResource
from app.audit.schemas import AuditFilters
from app.common.pagination import PageParams, decode_cursor, encode_cursor
from app.errors import InvalidCursor

EXPORT_BATCH = 500
E, R = AuditEvent, AuditEventResource
# The columns every item shares with its event.
_EVENT_COLUMNS = (
    E.id,
    E.at,
    E.actor_id,
    E.actor_role,
    E.action,
    E.request_id,
    E.client_request_id,
    E.ip,
    E.outcome,
    E.status_code,
)
Position = tuple[datetime, uuid.UUID, int]


@dataclass(frozen=True)
class Item:
    """One (event, resource) of the list: the event's columns, then the resource's."""

    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_role: str | None
    action: str
    request_id: str
    client_request_id: str | None
    ip: str | None
    outcome: str
    status_code: int
    position: int
    resource_type: str
    resource_id: str | None
    changed_fields: list[str] | None


def _event_filters(clinic_id: uuid.UUID, f: AuditFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [E.clinic_id == clinic_id]
    for column, value in (
        (E.actor_id, f.actor_id),
        (E.action, f.action),
        (E.outcome, f.outcome.value if f.outcome else None),
    ):
        if value is not None:
            where.append(column == value)
    if f.since is not None:
        where.append(E.at >= f.since)
    if f.until is not None:
        where.append(E.at < f.until)
    return where


def _resource_filters(
    table: type[AuditEvent] | type[AuditEventResource], f: AuditFilters
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.resource_type is not None:
        where.append(table.resource_type == f.resource_type)
    if f.resource_id is not None:
        where.append(table.resource_id == f.resource_id)
    return where


def _after(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    at, event_id, position = decode_cursor(cursor, 3)
    if not (
        isinstance(at, datetime)
        and at.tzinfo is not None
        and isinstance(event_id, uuid.UUID)
        and isinstance(position, int)
        and not isinstance(position, bool)
        and 0 <= position < 2**15
    ):
        raise InvalidCursor("The cursor belongs to another list.")
    return at, event_id, position


def _own_items(
    clinic_id: uuid.UUID, f: AuditFilters, after: Position | None, limit: int
) -> Select[*tuple[Any, ...]]:
    """Events whose own resource matches: position 0, in (at, id) order."""
    stmt = select(
        *_EVENT_COLUMNS,
        literal(0).label("position"),
        E.resource_type,
        E.resource_id,
        E.changed_fields,
    ).where(*_event_filters(clinic_id, f), *_resource_filters(E, f))
    if after is not None:
        # (at, id, 0) > (at', id', p') for p' >= 0 is (at, id) > (at', id').
        stmt = stmt.where(
            tuple_(E.at, E.id) > tuple_(literal(after[0], E.at.type), literal(after[1], E.id.type))
        )
    return stmt.order_by(E.at, E.id).limit(limit)


def _needs_event(f: AuditFilters) -> bool:
    """Whether a further resource's filters need its event's columns (not just its own)."""
    return f.actor_id is not None or f.action is not None or f.outcome is not None


def _further_items(
    clinic_id: uuid.UUID, f: AuditFilters, after: Position | None, limit: int
) -> Select[*tuple[Any, ...]]:
    """Further resources that match, in (at, id, position) order. Joined to their events only
    when an event-level filter needs it: alone, the clinic's (clinic_id, at, event_id, position)
    index yields them in order and the scan stops at the page's end."""
    stmt = select(R.event_id, R.at, R.position, R.resource_type, R.resource_id).where(
        R.clinic_id == clinic_id, *_resource_filters(R, f)
    )
    if _needs_event(f):
        stmt = stmt.join_from(R, E, and_(E.id == R.event_id, E.at == R.at)).where(
            *_event_filters(clinic_id, f)
        )
    if f.since is not None:
        stmt = stmt.where(R.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(R.at < f.until)
    if after is not None:
        bound = tuple_(
            literal(after[0], R.at.type),
            literal(after[1], R.event_id.type),
            literal(after[2], R.position.type),
        )
        stmt = stmt.where(tuple_(R.at, R.event_id, R.position) > bound)
    return stmt.order_by(R.at, R.event_id, R.position).limit(limit)


async def _with_events(db: AsyncSession, further: Sequence[Row[Any]]) -> list[Item]:
    """Further resources as items: each with its event's columns, read by primary key."""
    if not further:
        return []
    ids = {row.event_id for row in further}
    stmt = select(*_EVENT_COLUMNS).where(
        E.id.in_(ids), E.at >= further[0].at, E.at <= further[-1].at
    )
    events = {row.id: row for row in (await db.execute(stmt)).all()}
    return [
        Item(
            **events[row.event_id]._asdict(),
            position=row.position,
            resource_type=row.resource_type,
            resource_id=row.resource_id,
            changed_fields=None,
        )
        for row in further
    ]


def position_of(item: Item) -> Position:
    """The keyset position of an item, for its page's cursor."""
    return (item.at, item.id, item.position)


async def list_page(
    db: AsyncSession, clinic_id: uuid.UUID, filters: AuditFilters, page: PageParams
) -> list[Item]:
    """A page of (event, resource) items in chronological order, one more than the limit if
    there is a next page (as app.common.pagination.keyset does)."""
    after, limit = _after(page.cursor), page.limit + 1
    own = [
        Item(**row._asdict())
        for row in await db.execute(_own_items(clinic_id, filters, after, limit))
    ]
    further = (await db.execute(_further_items(clinic_id, filters, after, limit))).all()
    items = heapq.merge(own, await _with_events(db, further), key=position_of)
    return list(items)[:limit]


async def stream(
    db: AsyncSession, clinic_id: uuid.UUID, filters: AuditFilters
) -> AsyncIterator[Item]:
    """Every matching item in chronological order, fetched in batches."""
    page = PageParams(limit=EXPORT_BATCH)
    while True:
        rows = await list_page(db, clinic_id, filters, page)
        for row in rows[:EXPORT_BATCH]:
            yield row
        if len(rows) <= EXPORT_BATCH:
            return
        page = PageParams(
            limit=EXPORT_BATCH, cursor=encode_cursor(position_of(rows[EXPORT_BATCH - 1]))
        )
