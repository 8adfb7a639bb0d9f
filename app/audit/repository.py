"""SQL for reading the audit trail (it is only ever inserted into by the unit of work).

A stored event covers one resource on its own row (position 0) and any further ones as
`audit_event_resources` rows (positions 1..n). Lists show one item per (event, resource): the
union of both, each branch filtered on its own indexed columns, ordered by (at, id, position).
"""

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Row,
    Select,
    and_,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent, AuditEventResource
from app.audit.schemas import AuditFilters
from app.common.pagination import PageParams, encode_cursor, keyset

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


def _items(clinic_id: uuid.UUID, f: AuditFilters) -> Any:
    """Every (event, resource) pair the filters match, as a subquery."""
    on_row = select(
        *_EVENT_COLUMNS,
        literal(0).label("position"),
        E.resource_type,
        E.resource_id,
        E.changed_fields,
    ).where(*_event_filters(clinic_id, f), *_resource_filters(E, f))
    further = (
        select(
            *_EVENT_COLUMNS,
            R.position,
            R.resource_type,
            R.resource_id,
            type_coerce(null(), JSON).label("changed_fields"),
        )
        .join_from(R, E, and_(E.id == R.event_id, E.at == R.at))
        .where(R.clinic_id == clinic_id, *_event_filters(clinic_id, f), *_resource_filters(R, f))
    )
    if f.since is not None:
        further = further.where(R.at >= f.since)
    if f.until is not None:
        further = further.where(R.at < f.until)
    return union_all(on_row, further).subquery("items")


def _page_statement(clinic_id: uuid.UUID, f: AuditFilters, page: PageParams) -> Select[Any]:
    items = _items(clinic_id, f)
    return keyset(select(items), [items.c.at, items.c.id, items.c.position], page)


async def list_page(
    db: AsyncSession, clinic_id: uuid.UUID, filters: AuditFilters, page: PageParams
) -> Sequence[Row[Any]]:
    """A page of (event, resource) items in chronological order."""
    rows: Sequence[Row[Any]] = (await db.execute(_page_statement(clinic_id, filters, page))).all()
    return rows


def position_of(item: Row[Any]) -> tuple[Any, ...]:
    """The keyset position of an item, for its page's cursor."""
    return (item.at, item.id, item.position)


async def stream(
    db: AsyncSession, clinic_id: uuid.UUID, filters: AuditFilters
) -> AsyncIterator[Row[Any]]:
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
