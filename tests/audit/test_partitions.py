"""The audit trail's monthly partitions on PostgreSQL (issue 17): the worker's task creates the
months ahead, a row of a month nobody prepared is kept in the default partition, and several
workers may run the task at once."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.audit.models import AuditEvent
from app.audit.partitions import partition_months
from app.audit.retention import prepare_months
from tests.support import databases

pytestmark = pytest.mark.api


@pytest.fixture
async def postgres() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with databases.scratch_postgres() as url:
        engine = create_async_engine(url)
        try:
            yield async_sessionmaker(engine, expire_on_commit=False)
        finally:
            await engine.dispose()


def event(at: datetime) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "at": at,
        "action": "get_client",
        "resource_type": "client",
        "resource_id": str(uuid.uuid4()),
        "request_id": uuid.uuid4().hex,
        "outcome": "success",
        "status_code": 200,
    }


async def where_is(db: AsyncSession, event_id: object) -> str:
    found = await db.scalar(
        text("SELECT tableoid::regclass::text FROM audit_events WHERE id = :id"), {"id": event_id}
    )
    return str(found)


async def test_the_worker_prepares_months_ahead(
    postgres: async_sessionmaker[AsyncSession],
) -> None:
    async with postgres() as db:
        assert await prepare_months(db, datetime(2031, 12, 15, tzinfo=UTC)) == 6  # 3 x 2 tables
        await db.commit()
        for table in ("audit_events", "audit_event_resources"):
            months = await partition_months(db, table)
            assert {date(2031, 12, 1), date(2032, 1, 1), date(2032, 2, 1)} <= set(months)
        row = event(datetime(2032, 2, 29, 23, 59, 59, tzinfo=UTC))
        await db.execute(insert(AuditEvent), [row])
        await db.commit()
        assert await where_is(db, row["id"]) == "audit_events_y2032m02"
        # Again: nothing to do.
        assert await prepare_months(db, datetime(2031, 12, 31, tzinfo=UTC)) == 0


async def test_a_month_in_the_default_partition_is_left_there(
    postgres: async_sessionmaker[AsyncSession],
) -> None:
    stray = event(datetime(2040, 5, 3, tzinfo=UTC))
    async with postgres() as db:
        await db.execute(insert(AuditEvent), [stray])
        await db.commit()
        assert await where_is(db, stray["id"]) == "audit_events_default"
        # May already holds a row: May stays in the default partition, June and July are made.
        assert await prepare_months(db, datetime(2040, 5, 20, tzinfo=UTC)) == 5
        await db.commit()
        assert date(2040, 5, 1) not in await partition_months(db, "audit_events")
        assert date(2040, 5, 1) in await partition_months(db, "audit_event_resources")
        assert await where_is(db, stray["id"]) == "audit_events_default"


async def test_workers_at_once_make_each_month_once(
    postgres: async_sessionmaker[AsyncSession],
) -> None:
    async def one() -> int:
        async with postgres() as db:
            made = await prepare_months(db, datetime(2035, 3, 1, tzinfo=UTC))
            await db.commit()
            return made

    assert sorted(await asyncio.gather(one(), one(), one())) == [0, 0, 6]


async def test_the_application_role_prepares_months_but_cannot_drop_them() -> None:
    """With the tables owned by the migrating role and the worker on a role with row rights
    only (docs/operations.md), the worker still creates months, and cannot drop one."""
    role = f"kap_app_{uuid.uuid4().hex[:12]}"
    async with databases.scratch_postgres() as url:
        owner = create_async_engine(url)
        try:
            async with owner.begin() as connection:
                await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
                await connection.execute(
                    text(
                        "GRANT SELECT, INSERT, UPDATE, DELETE "
                        f"ON ALL TABLES IN SCHEMA public TO {role}"
                    )
                )
            app_engine = create_async_engine(make_url(url).set(username=role))
            try:
                async with async_sessionmaker(app_engine)() as db:
                    assert await prepare_months(db, datetime(2033, 7, 1, tzinfo=UTC)) == 6
                    await db.commit()
                    with pytest.raises(DBAPIError, match="must be owner"):
                        await db.execute(text("DROP TABLE audit_events_y2033m07"))
            finally:
                await app_engine.dispose()
            async with async_sessionmaker(owner)() as db:
                assert date(2033, 9, 1) in await partition_months(db, "audit_event_resources")
        finally:
            async with owner.begin() as connection:
                await connection.execute(text(f"DROP OWNED BY {role}"))
                await connection.execute(text(f"DROP ROLE {role}"))
            await owner.dispose()
