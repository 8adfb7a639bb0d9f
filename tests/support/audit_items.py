"""Audit rows as the list shows them: one item per (stored event, resource) (issue 17).

A request that read several resources is one `audit_events` row plus `audit_event_resources`
rows; tests that read the tables directly expand them here, so that they keep asserting what
was recorded about each resource rather than how it is stored.
"""

from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent, AuditEventResource
from app.audit.schemas import item_id

COLUMNS = [column.key for column in AuditEvent.__table__.columns]


async def audit_items(db: AsyncSession, *where: ColumnElement[bool]) -> list[Any]:
    """The items of the events matching `where`, in stored order, each with every column of
    `audit_events` (a further resource's item has its own id and no changed_fields)."""
    events = (await db.execute(select(AuditEvent).where(*where))).scalars().all()
    further = (
        await db.execute(
            select(AuditEventResource)
            .where(AuditEventResource.event_id.in_([e.id for e in events]))
            .order_by(AuditEventResource.event_id, AuditEventResource.position)
        )
    ).scalars()
    by_event: dict[Any, list[AuditEventResource]] = {}
    for row in further:
        by_event.setdefault(row.event_id, []).append(row)
    items = []
    for event in events:
        own = {column: getattr(event, column) for column in COLUMNS}
        items.append(SimpleNamespace(**own))
        for row in by_event.get(event.id, []):
            items.append(
                SimpleNamespace(
                    **{
                        **own,
                        "id": item_id(event.id, row.position),
                        "resource_type": row.resource_type,
                        "resource_id": row.resource_id,
                        "changed_fields": None,
                    }
                )
            )
    return items
