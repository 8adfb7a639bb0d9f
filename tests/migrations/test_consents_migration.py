"""The consents revision on a database that already holds a clinic: the table arrives empty,
refuses DELETE (UPDATE, a withdrawal, stays possible), and downgrading with consents in it
removes the table and keeps everything else."""

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.migrate import downgrade, upgrade

pytestmark = pytest.mark.api  # migrations on each backend

BEFORE = "a12c0de5ec12"
AFTER = "c14c0a5e7b2d"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STAMPS = {"created_at": NOW, "updated_at": NOW, "version": 1}

# The tables as they are at BEFORE, only the columns a row needs.
CLINICS = sa.table(
    "clinics",
    *(sa.column(name) for name in ("id", "name", "timezone", "require_completed_preparation")),
    *(
        sa.column(f"window_{name}")
        for name in (
            "opens_after_s",
            "closes_iv_s",
            "closes_im_s",
            "closes_intranasal_s",
            "closes_sublingual_s",
            "closes_oral_s",
        )
    ),
    *(sa.column(name) for name in ("closing_soon_s", "created_at", "updated_at", "version")),
)
STAFF = sa.table(
    "staff",
    *(sa.column(name) for name in ("id", "clinic_id", "email", "name", "role", "active", *STAMPS)),
)
CLIENTS = sa.table(
    "clients",
    *(
        sa.column(name)
        for name in (
            "id", "clinic_id", "first_name", "last_name", "date_of_birth",
            "presenting_concerns", "archived", *STAMPS,
        )
    ),
)  # fmt: skip
CONSENTS = sa.table(
    "consents",
    *(
        sa.column(name)
        for name in (
            "id", "clinic_id", "client_id", "kind", "document_version", "signed_at",
            "recorded_by", "withdrawn_at", "withdrawn_by", "withdrawal_reason", *STAMPS,
        )
    ),
)  # fmt: skip


def _id(engine: AsyncEngine) -> object:
    """A new id as each database stores it (hex text on SQLite, uuid on PostgreSQL)."""
    made = uuid.uuid4()
    return made.hex if engine.dialect.name == "sqlite" else made


async def _a_clinic_with_a_client(engine: AsyncEngine) -> dict[str, object]:
    ids = {name: _id(engine) for name in ("clinic", "staff", "client")}
    routes = ("iv", "im", "intranasal", "sublingual", "oral")
    windows = {f"window_closes_{route}_s": 86_400 for route in routes}
    async with engine.begin() as db:
        await db.execute(
            sa.insert(CLINICS).values(
                id=ids["clinic"], name="Clinic", timezone="UTC",
                require_completed_preparation=True, window_opens_after_s=0, closing_soon_s=3600,
                **windows, **STAMPS,
            )
        )  # fmt: skip
        await db.execute(
            sa.insert(STAFF).values(
                id=ids["staff"], clinic_id=ids["clinic"], email="a@a.example", name="A",
                role="admin", active=True, **STAMPS,
            )
        )  # fmt: skip
        await db.execute(
            sa.insert(CLIENTS).values(
                id=ids["client"], clinic_id=ids["clinic"], first_name="Maya",
                last_name="Okafor", date_of_birth=date(1988, 4, 17), presenting_concerns="[]",
                archived=False, **STAMPS,
            )
        )  # fmt: skip
    return ids


async def _consent(engine: AsyncEngine, ids: dict[str, object]) -> object:
    consent_id = _id(engine)
    async with engine.begin() as db:
        await db.execute(
            sa.insert(CONSENTS).values(
                id=consent_id, clinic_id=ids["clinic"], client_id=ids["client"],
                kind="kap_treatment", document_version="v1", signed_at=NOW,
                recorded_by=ids["staff"], **STAMPS,
            )
        )  # fmt: skip
    return consent_id


async def _count(engine: AsyncEngine, table: sa.TableClause) -> int:
    async with engine.connect() as db:
        return int((await db.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as db:
        return set(await db.run_sync(lambda sync: sa.inspect(sync).get_table_names()))


async def test_upgrade_adds_an_empty_table_that_refuses_delete_and_downgrade_drops_it(
    scratch_url: str,
) -> None:
    await asyncio.to_thread(upgrade, scratch_url, BEFORE)
    engine = create_async_engine(scratch_url)
    try:
        ids = await _a_clinic_with_a_client(engine)
        await asyncio.to_thread(upgrade, scratch_url, AFTER)
        assert await _count(engine, CONSENTS) == 0
        consent_id = await _consent(engine, ids)
        async with engine.begin() as db:  # a withdrawal is an UPDATE, and stays possible
            await db.execute(
                sa.update(CONSENTS)
                .where(CONSENTS.c.id == consent_id)
                .values(withdrawn_at=NOW, withdrawn_by=ids["staff"], withdrawal_reason="r")
            )
        with pytest.raises(DBAPIError, match="never deleted"):
            async with engine.begin() as db:
                await db.execute(sa.delete(CONSENTS).where(CONSENTS.c.id == consent_id))
        assert await _count(engine, CONSENTS) == 1

        await asyncio.to_thread(downgrade, scratch_url, BEFORE)
        assert "consents" not in await _tables(engine)
        assert await _count(engine, CLIENTS) == 1

        await asyncio.to_thread(upgrade, scratch_url, AFTER)
        await _consent(engine, ids)
        with pytest.raises(DBAPIError, match="never deleted"):
            async with engine.begin() as db:
                await db.execute(sa.delete(CONSENTS))
    finally:
        await engine.dispose()
