"""The self-report revision on a database with data: every assessment stored before was
entered by staff, so it gets `source: staff`; the downgrade keeps every assessment."""

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrate import downgrade, upgrade
from tests.support.migration_rows import STAMP_COLUMNS, revision_before, table

pytestmark = pytest.mark.api  # migrations on each backend

REVISION = "a15c2d3e4f50"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


STAMPS = STAMP_COLUMNS
WINDOWS = tuple(
    (f"window_{name}", sa.Integer())
    for name in (
        "opens_after_s",
        "closes_iv_s",
        "closes_im_s",
        "closes_intranasal_s",
        "closes_sublingual_s",
        "closes_oral_s",
    )
)
CLINICS = table(
    "clinics",
    ("id", sa.Uuid()),
    ("name", sa.String()),
    ("timezone", sa.String()),
    ("require_completed_preparation", sa.Boolean()),
    ("closing_soon_s", sa.Integer()),
    *WINDOWS,
    *STAMPS,
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
ASSESSMENTS = table(
    "assessments",
    ("id", sa.Uuid()),
    ("clinic_id", sa.Uuid()),
    ("client_id", sa.Uuid()),
    ("instrument", sa.String()),
    ("administered_at", sa.DateTime(timezone=True)),
    ("item_scores", sa.JSON()),
    ("total", sa.Integer()),
    ("self_harm_item_positive", sa.Boolean()),
    ("recorded_by", sa.Uuid()),
    ("created_at", sa.DateTime(timezone=True)),
)


async def _store_before(url: str) -> set[uuid.UUID]:
    clinic, staff, client = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stamps = {"created_at": NOW, "updated_at": NOW, "version": 1}
    assessments: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4(),
            "clinic_id": clinic,
            "client_id": client,
            "instrument": instrument,
            "administered_at": NOW,
            "item_scores": items,
            "total": sum(items),
            "self_harm_item_positive": False,
            "recorded_by": staff,
            "created_at": NOW,
        }
        for instrument, items in (("phq9", [1] * 9), ("gad7", [2] * 7))
    ]
    engine = create_async_engine(url)
    try:
        async with engine.begin() as db:
            await db.execute(
                sa.insert(CLINICS).values(
                    id=clinic,
                    name="Clinic",
                    timezone="UTC",
                    require_completed_preparation=False,
                    closing_soon_s=3600,
                    **({name: 86_400 for name, _ in WINDOWS} | {"window_opens_after_s": 0}),
                    **stamps,
                )
            )
            await db.execute(
                sa.insert(STAFF).values(
                    id=staff,
                    clinic_id=clinic,
                    email="admin@a.example",
                    name="Admin",
                    role="admin",
                    active=True,
                    **stamps,
                )
            )
            await db.execute(
                sa.insert(CLIENTS).values(
                    id=client,
                    clinic_id=clinic,
                    first_name="Maya",
                    last_name="Okafor",
                    date_of_birth=date(1988, 4, 17),
                    presenting_concerns=[],
                    archived=False,
                    **stamps,
                )
            )
            await db.execute(sa.insert(ASSESSMENTS), assessments)
    finally:
        await engine.dispose()
    return {row["id"] for row in assessments}


async def _columns(url: str) -> tuple[set[str], list[tuple[Any, ...]]]:
    """The table names, and every assessment's (id, source) if it has a source."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as db:
            tables = set(await db.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
            columns = await db.run_sync(
                lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("assessments")}
            )
            wanted = "id, source" if "source" in columns else "id"
            rows = await db.execute(sa.text(f"SELECT {wanted} FROM assessments"))  # noqa: S608
            return tables, [tuple(row) for row in rows]
    finally:
        await engine.dispose()


def _id(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


async def test_existing_assessments_are_staff_entries_and_the_downgrade_keeps_them(
    scratch_url: str,
) -> None:
    before = revision_before(REVISION, scratch_url)
    await asyncio.to_thread(upgrade, scratch_url, before)
    stored = await _store_before(scratch_url)

    await asyncio.to_thread(upgrade, scratch_url, REVISION)
    tables, rows = await _columns(scratch_url)
    assert "assessment_requests" in tables
    assert {(_id(row[0]), row[1]) for row in rows} == {(i, "staff") for i in stored}

    await asyncio.to_thread(downgrade, scratch_url, before)
    tables, rows = await _columns(scratch_url)
    assert "assessment_requests" not in tables
    assert {(_id(row[0]),) for row in rows} == {(i,) for i in stored}

    await asyncio.to_thread(upgrade, scratch_url, REVISION)
    _, rows = await _columns(scratch_url)
    assert {row[1] for row in rows} == {"staff"}
