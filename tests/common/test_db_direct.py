"""`read_rows`: on PostgreSQL it sends a statement to the driver by a plan made once, and must
give what SQLAlchemy's own execution gives — the same rows, values and types, inside the
session's transaction, with the cursor events fired and a failure raised as SQLAlchemy's
error. SQLite takes SQLAlchemy's path; the row tests run on both."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    Table,
    bindparam,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import DBAPIError, InvalidRequestError, StatementError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app import db_plans
from app.clinics.models import Clinic as ClinicRow
from app.db_direct import execute, read_rows, read_tuples
from app.sessions.enums import SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from tests.support.factories import T0, Clinic

# Built once, as the app's statements are: a plan is kept per statement.
SESSIONS_OF_CLIENT = (
    select(ClinicalSession)
    .where(ClinicalSession.client_id == bindparam("client_id"))
    .order_by(ClinicalSession.starts_at)
)
SCHEDULED_DOSES = select(ClinicalSession.id, ClinicalSession.route).where(
    ClinicalSession.client_id == bindparam("client_id"),
    ClinicalSession.kind == SessionKind.ketamine,  # bound in the statement, not passed
    ClinicalSession.status == SessionStatus.scheduled,
)
EXPANDING = select(ClinicalSession.id).where(
    ClinicalSession.id.in_(bindparam("ids", expanding=True))
)


async def _journey_client(clinic: Clinic) -> uuid.UUID:
    """A client with a completed preparation, a scheduled dose and an integration session:
    enums, JSON, timestamps and NULLs among the columns."""
    client = await clinic.prepared_client()
    await clinic.dose(client["id"], T0 + timedelta(days=1))
    await clinic.integration(client["id"], T0 + timedelta(days=2))
    return uuid.UUID(client["id"])


async def _both(app: FastAPI, statement: Any, parameters: dict[str, Any]) -> tuple[Any, Any]:
    """The rows as read_rows reads them and as SQLAlchemy executes the same statement."""
    async with app.state.sessionmaker() as db:
        ours = await read_rows(db, statement, parameters)
        theirs = (await (await db.connection()).execute(statement, parameters)).all()
    return ours, theirs


async def test_rows_are_sqlalchemys_rows_field_for_field(app: FastAPI, clinic: Clinic) -> None:
    client_id = await _journey_client(clinic)
    ours, theirs = await _both(app, SESSIONS_OF_CLIENT, {"client_id": client_id})
    assert len(ours) == len(theirs) == 3
    for mine, expected in zip(ours, theirs, strict=True):
        assert mine._fields == expected._fields
        assert tuple(mine) == tuple(expected)
        assert [type(v) for v in mine] == [type(v) for v in expected]
    assert ours[1].kind is SessionKind.ketamine  # named, and enums converted
    assert ours[1].starts_at.utcoffset() == timedelta(0)


async def test_tuples_hold_the_same_values_in_the_same_order(app: FastAPI, clinic: Clinic) -> None:
    # Enums converted (sessions), or the driver's rows as they came (nothing to convert).
    client_id = await _journey_client(clinic)
    for statement in (SESSIONS_OF_CLIENT, SCHEDULED_DOSES):
        async with app.state.sessionmaker() as db:
            ours = await read_tuples(db, statement, {"client_id": client_id})
            theirs = (
                await (await db.connection()).execute(statement, {"client_id": client_id})
            ).all()
        assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
        assert [[type(v) for v in row] for row in ours] == [
            [type(v) for v in row] for row in theirs
        ]


async def test_values_bound_in_the_statement_are_sent(app: FastAPI, clinic: Clinic) -> None:
    client_id = await _journey_client(clinic)
    ours, theirs = await _both(app, SCHEDULED_DOSES, {"client_id": client_id})
    assert len(ours) == 1
    assert [tuple(r) for r in ours] == [tuple(r) for r in theirs]


async def test_an_expanding_list_takes_sqlalchemys_path(
    app: FastAPI, clinic: Clinic, backend: str
) -> None:
    client_id = await _journey_client(clinic)
    everything, _ = await _both(app, SESSIONS_OF_CLIENT, {"client_id": client_id})
    ids = [row.id for row in everything[:2]]
    ours, theirs = await _both(app, EXPANDING, {"ids": ids})
    assert sorted(r.id for r in ours) == sorted(r.id for r in theirs) == sorted(ids)
    if backend == "postgresql":
        assert db_plans.PLANS[EXPANDING] is None  # no plan: its text changes per length
        assert db_plans.PLANS[SESSIONS_OF_CLIENT] is not None


DEFAULTED = Table(
    "direct_default_probe",
    MetaData(),
    Column("x", Integer, default=lambda: 7),  # computed by SQLAlchemy at each execution
    Column("y", Integer),
)


async def test_a_default_computed_at_execution_takes_sqlalchemys_path(
    app: FastAPI, backend: str
) -> None:
    async with app.state.sessionmaker() as db:
        await db.execute(text("CREATE TEMP TABLE direct_default_probe (x int, y int)"))
        insert = DEFAULTED.insert().values(y=1)
        await execute(db, insert, {})
        assert await read_rows(db, select(DEFAULTED.c.x, DEFAULTED.c.y), {}) == [(7, 1)]
        if backend == "postgresql":
            assert db_plans.PLANS[insert] is None  # no plan: a value is computed per execution
        await db.rollback()


@pytest.fixture
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the driver path is PostgreSQL's; SQLite takes SQLAlchemy's own")


CLINIC_NAME = select(ClinicRow.name).where(ClinicRow.id == bindparam("clinic_id"))


async def test_a_read_sees_what_its_session_added_changed_and_deleted(app: FastAPI) -> None:
    # Nothing is flushed by hand: each read flushes what the session holds, as a query would.
    async with app.state.sessionmaker() as db:
        row = ClinicRow(id=uuid.uuid4(), name="Added", timezone="UTC")
        db.add(row)
        for read in (read_rows, read_tuples):
            assert [tuple(r) for r in await read(db, CLINIC_NAME, {"clinic_id": row.id})] == [
                ("Added",)
            ]
        row.name = "Changed"
        assert [r.name for r in await read_rows(db, CLINIC_NAME, {"clinic_id": row.id})] == [
            "Changed"
        ]
        await db.delete(row)
        assert list(await read_tuples(db, CLINIC_NAME, {"clinic_id": row.id})) == []
        await db.rollback()


NOW = select(func.now().label("now"))
BOTH_CURSOR_EVENTS = ("before_cursor_execute", "after_cursor_execute")


@pytest.mark.usefixtures("postgresql_only")
async def test_reads_run_in_the_sessions_transaction(app: FastAPI) -> None:
    # now() is the transaction's start: the same for two reads only inside one transaction.
    async with app.state.sessionmaker() as db:
        first = (await read_rows(db, NOW, {}))[0].now
        await asyncio.sleep(0.02)
        second = (await read_rows(db, NOW, {}))[0].now
        await db.commit()
        await asyncio.sleep(0.02)
        third = (await read_rows(db, NOW, {}))[0].now
    assert first == second
    assert third > first


@pytest.fixture
def cursor_events(app: FastAPI) -> Iterator[list[tuple[str, str, tuple[Any, ...]]]]:
    seen: list[tuple[str, str, tuple[Any, ...]]] = []
    engine = app.state.engine.sync_engine

    def listener(name: str) -> Any:
        def record(_c: Any, _cur: Any, sql: str, parameters: Any, _ctx: Any, _m: bool) -> None:
            seen.append((name, sql, tuple(parameters)))

        return record

    listeners = [(name, listener(name)) for name in BOTH_CURSOR_EVENTS]
    for name, function in listeners:
        event.listen(engine, name, function)
    yield seen
    for name, function in listeners:
        event.remove(engine, name, function)


@pytest.mark.usefixtures("postgresql_only")
async def test_cursor_events_see_the_statement(
    app: FastAPI, clinic: Clinic, cursor_events: list[tuple[str, str, tuple[Any, ...]]]
) -> None:
    client_id = await _journey_client(clinic)
    cursor_events.clear()
    async with app.state.sessionmaker() as db:
        await read_rows(db, SCHEDULED_DOSES, {"client_id": client_id})
    assert [name for name, _, _ in cursor_events] == list(BOTH_CURSOR_EVENTS)
    _, sql, parameters = cursor_events[0]
    assert sql.startswith("SELECT sessions.id, sessions.route")
    assert parameters == (client_id, "ketamine", "scheduled")


@pytest.mark.usefixtures("postgresql_only")
async def test_a_read_makes_a_cursor_only_for_the_cursor_events(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The adapter's cursor cost ~35,000 instructions a statement (docs/performance.md, ninth
    # pass). An engine of its own: once a listener was added, SQLAlchemy's flag stays set.
    engine = create_async_engine(database_url)
    made: list[object] = []
    make = AsyncAdapt_asyncpg_connection.cursor

    def counted(adapter: AsyncAdapt_asyncpg_connection, *args: Any, **kwargs: Any) -> Any:
        cursor = make(adapter, *args, **kwargs)
        made.append(cursor)
        return cursor

    try:
        async with async_sessionmaker(engine)() as db:
            await db.connection()  # the checkout (and its ping after idle) may make one
            monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "cursor", counted)
            assert len(await read_rows(db, NOW, {})) == 1
            assert made == []
            handed: list[object] = []
            event.listen(
                engine.sync_engine, "before_cursor_execute", lambda *event: handed.append(event[1])
            )
            assert len(await read_rows(db, NOW, {})) == 1
            assert len(made) == 1
            assert handed == made  # the listener is handed the cursor made for it
    finally:
        await engine.dispose()


DIVIDE = select(literal_column("1") / bindparam("by", type_=Integer))


@pytest.mark.usefixtures("postgresql_only")
async def test_a_failing_read_raises_sqlalchemys_error(app: FastAPI) -> None:
    async with app.state.sessionmaker() as db:
        with pytest.raises(DBAPIError, match="division by zero"):
            await read_rows(db, DIVIDE, {"by": 0})
        await db.rollback()
        assert (await read_rows(db, DIVIDE, {"by": 1}))[0][0] == 1


@pytest.mark.usefixtures("postgresql_only")
async def test_a_read_after_commit_begins_the_sessions_next_transaction(app: FastAPI) -> None:
    # The session's connection is kept for its transaction only: after a commit it went back
    # to the pool, and a read must go through the session again, which begins the next one.
    async with app.state.sessionmaker() as db:
        await read_rows(db, NOW, {})
        await db.commit()
        assert not db.in_transaction()
        await read_rows(db, NOW, {})
        assert db.in_transaction()
        first = db.info["kap.direct"].connection
        await read_rows(db, NOW, {})
        assert db.info["kap.direct"].connection is first  # the same transaction, asked once


async def test_a_parameter_left_out_is_refused_not_sent_as_null(app: FastAPI) -> None:
    async with app.state.sessionmaker() as db:
        with pytest.raises((InvalidRequestError, StatementError), match="value is required"):
            await read_rows(db, SCHEDULED_DOSES, {"client": uuid.uuid4()})  # misspelt name


UNKNOWN_KIND = select(literal_column("'retreat'", ClinicalSession.kind.type).label("kind"))
NO_KIND = select(literal_column("NULL", ClinicalSession.kind.type).label("kind"))


async def test_an_enum_value_the_app_does_not_know_is_refused_as_sqlalchemy_does(
    app: FastAPI,
) -> None:
    async with app.state.sessionmaker() as db:
        assert (await read_rows(db, NO_KIND, {}))[0].kind is None
        with pytest.raises(LookupError, match="'retreat' is not among the defined enum values"):
            await read_rows(db, UNKNOWN_KIND, {})


async def test_rows_are_named_tuples_on_every_database(app: FastAPI, clinic: Clinic) -> None:
    client_id = await _journey_client(clinic)
    async with app.state.sessionmaker() as db:
        rows = await read_rows(db, SCHEDULED_DOSES, {"client_id": client_id})
    row: Any = rows[0]
    assert row._fields == ("id", "route")
    assert not hasattr(row, "_mapping")  # nothing SQLite has that PostgreSQL lacks


PROBE = Table("direct_probe", MetaData(), Column("x", Integer))


@pytest.mark.usefixtures("postgresql_only")
async def test_a_statement_the_server_calls_stale_is_prepared_again(database_url: str) -> None:
    # One pooled connection, so the prepared statement read first is the one found stale.
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    statement = select(PROBE.c.x)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(PROBE.create)
            await connection.execute(PROBE.insert().values(x=1))
        async with async_sessionmaker(engine)() as db:
            assert [tuple(row) for row in await read_rows(db, statement, {})] == [(1,)]
            await db.commit()
            async with engine.connect() as other:  # not through the adapter's cache
                raw = await other.get_raw_connection()
                await raw.driver_connection.execute("ALTER TABLE direct_probe ALTER x TYPE bigint")  # type: ignore[union-attr]
            with pytest.raises(DBAPIError, match="cached"):
                await read_rows(db, statement, {})  # as on SQLAlchemy's own path
            await db.rollback()
            assert [tuple(row) for row in await read_rows(db, statement, {})] == [(1,)]
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(PROBE.drop)
        await engine.dispose()


SLEEP = select(func.pg_sleep(bindparam("seconds", type_=Float)))


@pytest.mark.usefixtures("postgresql_only")
async def test_a_cancelled_read_leaves_its_connection_to_be_dropped(app: FastAPI) -> None:
    # As SQLAlchemy treats an exit exception mid-statement: the connection is not reused.
    async with app.state.sessionmaker() as db:
        read = asyncio.create_task(read_rows(db, SLEEP, {"seconds": 5}))
        await asyncio.sleep(0.2)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        assert db.info["kap.direct"].sync.invalidated
        await db.rollback()
