"""The statements of idempotency records: claiming a key, finding, releasing and purging them."""

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import in_clinic, insert_if_absent, new_id
from app.idempotency.models import IdempotencyRecord


async def claimed_record(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    staff_id: uuid.UUID,
    key: str,
    request_hash: str,
    now: datetime,
    expires_at: datetime,
) -> tuple[IdempotencyRecord, bool]:
    """The caller's record for `key`, inserted as in progress unless it exists; and whether
    this call inserted it (a concurrent duplicate waits for the first, then finds its row)."""
    claim_id = new_id()
    await insert_if_absent(
        db,
        IdempotencyRecord,
        {
            "id": claim_id,
            "clinic_id": clinic_id,
            "staff_id": staff_id,
            "key": key,
            "request_hash": request_hash,
            "locked_at": now,
            "expires_at": expires_at,
            "completed": False,
        },
        ["clinic_id", "staff_id", "key"],
    )
    record = (
        await db.execute(
            select(IdempotencyRecord)
            .where(
                in_clinic(IdempotencyRecord, clinic_id),
                IdempotencyRecord.staff_id == staff_id,
                IdempotencyRecord.key == key,
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return record, record.id == claim_id


async def record_by_id(db: AsyncSession, record_id: uuid.UUID) -> IdempotencyRecord | None:
    return await db.get(IdempotencyRecord, record_id)


async def delete_unfinished(db: AsyncSession, record_id: uuid.UUID) -> None:
    """Release a key whose request failed, unless its response was stored meanwhile."""
    await db.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == record_id, IdempotencyRecord.completed.is_(False)
        )
    )


async def delete_expired(db: AsyncSession, now: datetime) -> int:
    """Delete the records expired at `now`; returns how many went."""
    result = await db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
