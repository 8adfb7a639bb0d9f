"""Idempotency records stored before the upgrade that added `response_role` count as the widest
view ('admin'), so a stored body is never replayed to a role that may see less than it holds."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrate import downgrade, upgrade

pytestmark = pytest.mark.api  # migrations on each backend

BEFORE = "82bc60e75dd5"
AFTER = "a12c0de5ec12"

# The tables as they are at BEFORE, only the columns a row needs; sa.Uuid and sa.DateTime store
# values as each database does (hex text on SQLite, native types on PostgreSQL).
CLINICS = sa.table(
    "clinics",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("timezone", sa.String()),
    sa.column("require_completed_preparation", sa.Boolean()),
    *(
        sa.column(f"window_{name}", sa.Integer())
        for name in (
            "opens_after_s",
            "closes_iv_s",
            "closes_im_s",
            "closes_intranasal_s",
            "closes_sublingual_s",
            "closes_oral_s",
        )
    ),
    sa.column("closing_soon_s", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("version", sa.Integer()),
)
STAFF = sa.table(
    "staff",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("version", sa.Integer()),
)
RECORDS = sa.table(
    "idempotency_records",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("staff_id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("request_hash", sa.String()),
    sa.column("locked_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("completed", sa.Boolean()),
    sa.column("response_status", sa.Integer()),
    sa.column("response_headers", sa.JSON()),
    sa.column("response_body", sa.LargeBinary()),
)


async def _store_a_response_before_the_upgrade(url: str) -> uuid.UUID:
    """A completed record of an admin's POST, as the release before stored it."""
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clinic_id, staff_id, record_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stamps = {"created_at": now, "updated_at": now, "version": 1}
    windows = {
        "window_opens_after_s": 0,
        **dict.fromkeys(
            (f"window_closes_{r}_s" for r in ("iv", "im", "intranasal", "sublingual", "oral")),
            86_400,
        ),
    }
    engine = create_async_engine(url)
    try:
        async with engine.begin() as db:
            await db.execute(
                sa.insert(CLINICS).values(
                    id=clinic_id,
                    name="Clinic",
                    timezone="UTC",
                    require_completed_preparation=False,
                    closing_soon_s=3600,
                    **windows,
                    **stamps,
                )
            )
            await db.execute(
                sa.insert(STAFF).values(
                    id=staff_id,
                    clinic_id=clinic_id,
                    email="admin@a.example",
                    name="Admin",
                    role="admin",
                    active=True,
                    **stamps,
                )
            )
            await db.execute(
                sa.insert(RECORDS).values(
                    id=record_id,
                    clinic_id=clinic_id,
                    staff_id=staff_id,
                    key="key-1",
                    request_hash="0" * 64,
                    locked_at=now,
                    expires_at=now + timedelta(hours=24),
                    completed=True,
                    response_status=201,
                    response_headers={"content-type": "application/json"},
                    response_body=b'{"id":"x"}',
                )
            )
    finally:
        await engine.dispose()
    return record_id


async def _record(url: str, record_id: uuid.UUID) -> dict[str, object]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as db:
            table = await db.run_sync(
                lambda sync: sa.Table("idempotency_records", sa.MetaData(), autoload_with=sync)
            )
            row = (
                await db.execute(
                    sa.select(table).where(table.c.id == sa.literal(record_id, sa.Uuid()))
                )
            ).one()
    finally:
        await engine.dispose()
    return dict(row._mapping)


async def test_records_stored_before_the_upgrade_count_as_the_admin_view(scratch_url: str) -> None:
    await asyncio.to_thread(upgrade, scratch_url, BEFORE)
    record_id = await _store_a_response_before_the_upgrade(scratch_url)

    await asyncio.to_thread(upgrade, scratch_url, AFTER)
    upgraded = await _record(scratch_url, record_id)
    assert upgraded["response_role"] == "admin"
    assert (upgraded["response_status"], upgraded["response_body"]) == (201, b'{"id":"x"}')

    # Downgrading drops the column and keeps the record; upgrading again reads 'admin' again.
    await asyncio.to_thread(downgrade, scratch_url, BEFORE)
    downgraded = await _record(scratch_url, record_id)
    assert "response_role" not in downgraded
    assert (downgraded["response_status"], downgraded["response_body"]) == (201, b'{"id":"x"}')
    await asyncio.to_thread(upgrade, scratch_url, AFTER)
    assert (await _record(scratch_url, record_id))["response_role"] == "admin"
