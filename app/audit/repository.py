"""SQL for reading the audit trail (it is only ever inserted into by the unit of work)."""

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.schemas import AuditFilters
from app.common.pagination import PageParams, encode_cursor, keyset
from app.db import clinic_scoped

EXPORT_BATCH = 500


def _filtered(clinic_id: uuid.UUID, f: AuditFilters) -> Select[AuditEvent]:
    stmt = clinic_scoped(AuditEvent, clinic_id)
    e = AuditEvent
    for column, value in (
        (e.actor_id, f.actor_id),
        (e.resource_type, f.resource_type),
        (e.resource_id, f.resource_id),
        (e.action, f.action),
        (e.outcome, f.outcome.value if f.outcome else None),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.since is not None:
        stmt = stmt.where(e.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(e.at < f.until)
    return stmt


async def list_page(
    db: AsyncSession, clinic_id: uuid.UUID, filters: AuditFilters, page: PageParams
) -> Sequence[AuditEvent]:
    """A page in chronological order."""
    stmt = keyset(_filtered(clinic_id, filters), [AuditEvent.at, AuditEvent.id], page)
    return (await db.execute(stmt)).scalars().all()


async def stream(
    db: AsyncSession, clinic_id: uuid.UUID, filters: AuditFilters
) -> AsyncIterator[AuditEvent]:
    """Every matching event in chronological order, fetched in batches."""
    page = PageParams(limit=EXPORT_BATCH)
    while True:
        rows = await list_page(db, clinic_id, filters, page)
        for row in rows[:EXPORT_BATCH]:
            yield row
        if len(rows) <= EXPORT_BATCH:
            return
        last = rows[EXPORT_BATCH - 1]
        page = PageParams(limit=EXPORT_BATCH, cursor=encode_cursor((last.at, last.id)))
