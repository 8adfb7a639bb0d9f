"""The upgrade that adds safety reviews opens one for every PHQ-9 already stored with item 9
above 0 (nobody has a record of having looked at them), and its downgrade drops them again."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import UTCDateTime
from app.migrate import downgrade, upgrade

pytestmark = pytest.mark.api  # migrations on each backend

BEFORE = "c14c0a5e7b2d"  # the revision before the safety reviews
AFTER = "d14a5afe7e01"
RECORDED = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)

# The tables as they are at BEFORE, only the columns a row needs.


def _stamps() -> list[sa.ColumnClause[Any]]:
    return [
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("version", sa.Integer()),
    ]


WINDOW_COLUMNS = [
    f"window_{name}"
    for name in (
        "opens_after_s",
        "closes_iv_s",
        "closes_im_s",
        "closes_intranasal_s",
        "closes_sublingual_s",
        "closes_oral_s",
    )
]
CLINICS = sa.table(
    "clinics",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("timezone", sa.String()),
    sa.column("require_completed_preparation", sa.Boolean()),
    *(sa.column(name, sa.Integer()) for name in WINDOW_COLUMNS),
    sa.column("closing_soon_s", sa.Integer()),
    *_stamps(),
)
STAFF = sa.table(
    "staff",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("active", sa.Boolean()),
    *_stamps(),
)
CLIENTS = sa.table(
    "clients",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("first_name", sa.String()),
    sa.column("last_name", sa.String()),
    sa.column("date_of_birth", sa.Date()),
    sa.column("presenting_concerns", sa.JSON()),
    sa.column("archived", sa.Boolean()),
    *_stamps(),
)
ASSESSMENTS = sa.table(
    "assessments",
    sa.column("id", sa.Uuid()),
    sa.column("clinic_id", sa.Uuid()),
    sa.column("client_id", sa.Uuid()),
    sa.column("instrument", sa.String()),
    sa.column("administered_at", UTCDateTime()),
    sa.column("item_scores", sa.JSON()),
    sa.column("total", sa.Integer()),
    sa.column("self_harm_item_positive", sa.Boolean()),
    sa.column("recorded_by", sa.Uuid()),
    sa.column("created_at", UTCDateTime()),
)


def _assessment(ids: dict[str, uuid.UUID], instrument: str, items: list[int], at: datetime) -> Any:
    return {
        "id": uuid.uuid4(),
        "clinic_id": ids["clinic"],
        "client_id": ids["client"],
        "instrument": instrument,
        "administered_at": at - timedelta(hours=1),
        "item_scores": items,
        "total": sum(items),
        "self_harm_item_positive": instrument == "phq9" and items[8] > 0,
        "recorded_by": ids["staff"],
        "created_at": at,
    }


async def _store_assessments_before_the_upgrade(url: str) -> dict[str, dict[str, Any]]:
    """Two positive PHQ-9s (the later one of them followed by an item 9 at 0), a negative one
    and a GAD-7, as the release before stored them."""
    ids = {"clinic": uuid.uuid4(), "staff": uuid.uuid4(), "client": uuid.uuid4()}
    stamps = {"created_at": RECORDED, "updated_at": RECORDED, "version": 1}
    rows = {
        "positive": _assessment(ids, "phq9", [1] * 8 + [2], RECORDED),
        "negative": _assessment(ids, "phq9", [3] * 8 + [0], RECORDED + timedelta(days=1)),
        "gad7": _assessment(ids, "gad7", [3] * 7, RECORDED + timedelta(days=2)),
        "positive_later": _assessment(ids, "phq9", [0] * 8 + [1], RECORDED + timedelta(days=3)),
        "cleared_later": _assessment(ids, "phq9", [0] * 9, RECORDED + timedelta(days=4)),
    }
    engine = create_async_engine(url)
    try:
        async with engine.begin() as db:
            await db.execute(
                sa.insert(CLINICS).values(
                    id=ids["clinic"],
                    name="Clinic",
                    timezone="UTC",
                    require_completed_preparation=False,
                    closing_soon_s=3600,
                    **(dict.fromkeys(WINDOW_COLUMNS, 86_400) | {"window_opens_after_s": 0}),
                    **stamps,
                )
            )
            await db.execute(
                sa.insert(STAFF).values(
                    id=ids["staff"],
                    clinic_id=ids["clinic"],
                    email="admin@a.example",
                    name="Admin",
                    role="admin",
                    active=True,
                    **stamps,
                )
            )
            await db.execute(
                sa.insert(CLIENTS).values(
                    id=ids["client"],
                    clinic_id=ids["clinic"],
                    first_name="Maya",
                    last_name="Okafor",
                    date_of_birth=date(1988, 4, 17),
                    presenting_concerns=[],
                    archived=False,
                    **stamps,
                )
            )
            await db.execute(sa.insert(ASSESSMENTS), list(rows.values()))
    finally:
        await engine.dispose()
    return rows


async def _read(url: str, table: str, **where: Any) -> list[dict[str, Any]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as db:
            names = await db.run_sync(lambda sync: sa.inspect(sync).get_table_names())
            if table not in names:
                return []
            reflected = await db.run_sync(
                lambda sync: sa.Table(table, sa.MetaData(), autoload_with=sync, resolve_fks=False)
            )
            stmt = sa.select(reflected)
            for name, value in where.items():
                stmt = stmt.where(reflected.c[name] == value)
            return [dict(row._mapping) for row in await db.execute(stmt)]
    finally:
        await engine.dispose()


def _uuid(value: Any) -> uuid.UUID:
    """A Uuid column as each database returns it through reflection (hex text on SQLite)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _at(value: Any) -> datetime:
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


async def _check_one_open_review_per_positive(url: str, rows: dict[str, dict[str, Any]]) -> None:
    reviews = await _read(url, "safety_reviews")
    by_assessment = {_uuid(r["assessment_id"]): r for r in reviews}
    positives = [rows["positive"], rows["positive_later"]]
    assert set(by_assessment) == {row["id"] for row in positives}
    for assessment in positives:
        review = by_assessment[assessment["id"]]
        assert _uuid(review["clinic_id"]) == assessment["clinic_id"]
        assert _uuid(review["client_id"]) == assessment["client_id"]
        assert _at(review["opened_at"]) == assessment["created_at"]
        assert (review["status"], review["version"]) == ("open", 1)
        assert [review[k] for k in ("resolved_at", "resolved_by", "action", "note")] == [None] * 4
        [audit] = await _read(url, "audit_events", resource_id=str(_uuid(review["id"])))
        assert (audit["action"], audit["resource_type"]) == (
            "open_safety_review_on_upgrade",
            "safety_review",
        )
        assert (audit["actor_id"], audit["outcome"], audit["status_code"]) == (None, "success", 0)


async def test_the_upgrade_opens_a_review_for_each_stored_positive_phq9(scratch_url: str) -> None:
    await asyncio.to_thread(upgrade, scratch_url, BEFORE)
    rows = await _store_assessments_before_the_upgrade(scratch_url)

    await asyncio.to_thread(upgrade, scratch_url, AFTER)
    await _check_one_open_review_per_positive(scratch_url, rows)

    # Downgrading drops the reviews and keeps every assessment; upgrading again reopens them.
    await asyncio.to_thread(downgrade, scratch_url, BEFORE)
    assert await _read(scratch_url, "safety_reviews") == []
    kept = await _read(scratch_url, "assessments")
    assert {_uuid(a["id"]) for a in kept} == {row["id"] for row in rows.values()}
    await asyncio.to_thread(upgrade, scratch_url, AFTER)
    await _check_one_open_review_per_positive(scratch_url, rows)
