"""The screenings revision on a database with data: existing clinics get both dosing-gate
settings on and a 365-day screening validity, existing staff are no prescribers, screenings are
append-only, and the downgrade keeps every clinic and staff row."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.migrate import downgrade, upgrade
from tests.support.migration_rows import STAMP_COLUMNS, revision_before, table

pytestmark = pytest.mark.api  # migrations on each backend

REVISION = "b14c1ea2a9c1"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ROUTES = ("iv", "im", "intranasal", "sublingual", "oral")


STAMPS = STAMP_COLUMNS
CLINICS = table(
    "clinics",
    ("id", sa.Uuid()),
    ("name", sa.String()),
    ("timezone", sa.String()),
    ("require_completed_preparation", sa.Boolean()),
    ("window_opens_after_s", sa.Integer()),
    ("closing_soon_s", sa.Integer()),
    *((f"window_closes_{route}_s", sa.Integer()) for route in ROUTES),
    *STAMPS,
)
GATE = table(
    "clinics",
    ("id", sa.Uuid()),
    ("require_medical_clearance", sa.Boolean()),
    ("require_consent", sa.Boolean()),
    ("screening_valid_days", sa.Integer()),
)
STAFF = table(
    "staff",
    ("id", sa.Uuid()),
    ("clinic_id", sa.Uuid()),
    ("email", sa.String()),
    ("name", sa.String()),
    ("role", sa.String()),
    ("active", sa.Boolean()),
    *STAMPS,
)
PRESCRIBERS = table("staff", ("id", sa.Uuid()), ("prescriber", sa.Boolean()))
CLIENTS = table(
    "clients",
    ("id", sa.Uuid()),
    ("clinic_id", sa.Uuid()),
    ("first_name", sa.String()),
    ("last_name", sa.String()),
    ("date_of_birth", sa.Date()),
    ("presenting_concerns", sa.JSON()),
    ("archived", sa.Boolean()),
    *STAMPS,
)
SCREENINGS = table(
    "screenings",
    ("id", sa.Uuid()),
    ("clinic_id", sa.Uuid()),
    ("client_id", sa.Uuid()),
    ("screened_at", sa.DateTime(timezone=True)),
    ("screened_by", sa.Uuid()),
    ("contraindications", sa.JSON()),
    ("decision", sa.String()),
    ("valid_until", sa.DateTime(timezone=True)),
    ("created_at", sa.DateTime(timezone=True)),
    ("version", sa.Integer()),
)


async def _rows(engine: AsyncEngine, table: sa.TableClause) -> list[dict[str, Any]]:
    async with engine.connect() as db:
        return [dict(row._mapping) for row in await db.execute(sa.select(table))]


async def _columns(engine: AsyncEngine, name: str) -> set[str]:
    async with engine.connect() as db:
        found = await db.run_sync(lambda sync: sa.inspect(sync).get_columns(name))
    return {column["name"] for column in found}


async def _seed(engine: AsyncEngine) -> tuple[uuid.UUID, uuid.UUID]:
    """A clinic and its admin as the release before stored them."""
    clinic_id, staff_id = uuid.uuid4(), uuid.uuid4()
    stamps = {"created_at": NOW, "updated_at": NOW, "version": 1}
    async with engine.begin() as db:
        await db.execute(
            sa.insert(CLINICS).values(
                id=clinic_id,
                name="Clinic",
                timezone="UTC",
                require_completed_preparation=True,
                window_opens_after_s=0,
                closing_soon_s=3600,
                **{f"window_closes_{route}_s": 86_400 for route in ROUTES},
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
    return clinic_id, staff_id


async def _screen(engine: AsyncEngine, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> None:
    """A client and a screening of them, written after the upgrade."""
    client_id = uuid.uuid4()
    async with engine.begin() as db:
        await db.execute(
            sa.insert(CLIENTS).values(
                id=client_id,
                clinic_id=clinic_id,
                first_name="M",
                last_name="O",
                date_of_birth=datetime(1988, 4, 17).date(),
                presenting_concerns=[],
                archived=False,
                created_at=NOW,
                updated_at=NOW,
                version=1,
            )
        )
        await db.execute(
            sa.insert(SCREENINGS).values(
                id=uuid.uuid4(),
                clinic_id=clinic_id,
                client_id=client_id,
                screened_at=NOW,
                screened_by=staff_id,
                contraindications={},
                decision="pending",
                valid_until=NOW + timedelta(days=365),
                created_at=NOW,
                version=1,
            )
        )
    for statement in (sa.update(SCREENINGS).values(decision="cleared"), sa.delete(SCREENINGS)):
        async with engine.begin() as db:
            with pytest.raises(DBAPIError, match="append-only"):
                await db.execute(statement)


async def test_existing_rows_get_the_defaults_and_survive_a_downgrade(scratch_url: str) -> None:
    before = revision_before(REVISION, scratch_url)
    await asyncio.to_thread(upgrade, scratch_url, before)
    engine = create_async_engine(scratch_url)
    try:
        clinic_id, staff_id = await _seed(engine)
        await asyncio.to_thread(upgrade, scratch_url, REVISION)
        assert await _rows(engine, GATE) == [
            {
                "id": clinic_id,
                "require_medical_clearance": True,
                "require_consent": True,
                "screening_valid_days": 365,
            }
        ]
        assert await _rows(engine, PRESCRIBERS) == [{"id": staff_id, "prescriber": False}]
        await _screen(engine, clinic_id, staff_id)

        await asyncio.to_thread(downgrade, scratch_url, before)
        assert "require_medical_clearance" not in await _columns(engine, "clinics")
        assert "prescriber" not in await _columns(engine, "staff")
        assert [row["id"] for row in await _rows(engine, CLINICS)] == [clinic_id]
        assert [row["id"] for row in await _rows(engine, STAFF)] == [staff_id]
        await asyncio.to_thread(upgrade, scratch_url, REVISION)
        assert await _rows(engine, SCREENINGS) == []
    finally:
        await engine.dispose()
