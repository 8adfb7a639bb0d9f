"""`commit_sent_directly`: on PostgreSQL a session whose commit waits only for the driver's
COMMIT sends it from the event loop, and app/db.py's `Session.commit` finishes without a
greenlet. It must commit what SQLAlchemy's commit would, fail as SQLAlchemy's would, and leave
to SQLAlchemy every commit that has more to wait for: changes to flush, a savepoint to release,
a second connection or one it must not commit, commit listeners, a connection the pool closes
on return."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Integer, bindparam, event, func, select, text
from sqlalchemy.exc import IntegrityError, InvalidRequestError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.clinics.models import Clinic as ClinicRow
from app.db import Session, create_sessionmaker
from app.db_commit import commit_sent_directly
from app.db_direct import DirectConnection, direct_connection, execute, read_rows

pytestmark = pytest.mark.usefixtures("postgresql_only")

NOW = select(func.now().label("now"))
CLINIC_NAME = select(ClinicRow.name).where(ClinicRow.id == bindparam("clinic_id"))
INSERT_TWICE = text("INSERT INTO direct_commit_probe (x) VALUES (:x), (:x)").bindparams(
    bindparam("x", type_=Integer)
)
# Deferred: the duplicate is found by the COMMIT itself, not by the INSERT.
DEFERRED_UNIQUE = (
    "CREATE TEMP TABLE direct_commit_probe (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
    " ON COMMIT DROP"
)


def asyncpg_connection(db: AsyncSession) -> Any:
    """asyncpg's own connection under the session's current transaction."""
    direct = direct_connection(db)
    assert direct is not None
    return direct.adapter._connection


def assert_closed_quietly(connection: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Closed, as the pool closes a connection it does not keep, with nothing logged: a close
    tried outside SQLAlchemy's greenlet fails, and the pool only logs that."""
    assert connection.is_closed()
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.fixture
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the driver path is PostgreSQL's; SQLite takes SQLAlchemy's own")


@pytest.fixture
async def small_pool(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The app's sessions on a pool that keeps one connection and may lend one more."""
    engine = create_async_engine(database_url, pool_size=1, max_overflow=1)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_a_read_only_session_commits_from_the_event_loop(app: FastAPI) -> None:
    async with app.state.sessionmaker() as db:
        first = (await read_rows(db, NOW, {}))[0].now
        assert await commit_sent_directly(db)
        await db.commit()  # finds nothing that waits
        assert not db.in_transaction()
        await asyncio.sleep(0.02)
        assert (await read_rows(db, NOW, {}))[0].now > first  # a transaction of its own


async def test_what_the_direct_commit_commits_is_there_afterwards(app: FastAPI) -> None:
    clinic_id = uuid.uuid4()
    async with app.state.sessionmaker() as db:
        db.add(ClinicRow(id=clinic_id, name="Committed", timezone="UTC"))
        await db.flush()
        await read_rows(db, NOW, {})  # the statements went to the driver
        assert await commit_sent_directly(db)
        await db.commit()
    async with app.state.sessionmaker() as other:
        names = [row.name for row in await read_rows(other, CLINIC_NAME, {"clinic_id": clinic_id})]
    assert names == ["Committed"]


async def test_changes_left_to_flush_are_committed_sqlalchemys_way(app: FastAPI) -> None:
    clinic_id = uuid.uuid4()
    async with app.state.sessionmaker() as db:
        await read_rows(db, NOW, {})
        db.add(ClinicRow(id=clinic_id, name="Flushed at commit", timezone="UTC"))
        assert not await commit_sent_directly(db)  # a flush waits for the server
        await db.commit()
    async with app.state.sessionmaker() as other:
        names = [row.name for row in await read_rows(other, CLINIC_NAME, {"clinic_id": clinic_id})]
    assert names == ["Flushed at commit"]


async def test_a_savepoint_is_released_sqlalchemys_way(app: FastAPI) -> None:
    async with app.state.sessionmaker() as db:
        await read_rows(db, NOW, {})
        await db.begin_nested()
        await read_rows(db, NOW, {})
        assert not await commit_sent_directly(db)
        await db.commit()  # releases the savepoint, then commits
        assert not db.in_transaction()


async def test_a_connection_the_pool_would_close_is_returned_sqlalchemys_way(
    small_pool: async_sessionmaker[AsyncSession],
) -> None:
    # Two sessions at once: the second connection is the pool's overflow. The first one back
    # fills the pool, so the second is closed on its return, which waits for the server.
    async with small_pool() as first, small_pool() as second:
        await read_rows(first, NOW, {})
        await read_rows(second, NOW, {})
        await first.commit()
        assert not await commit_sent_directly(second)
        await second.commit()
    engine = small_pool.kw["bind"]
    assert engine.pool.checkedin() == 1
    assert engine.pool.checkedout() == 0


async def test_a_session_on_two_connections_commits_sqlalchemys_way(
    app: FastAPI, database_url: str
) -> None:
    # Clinics read through an engine of their own: the commit must end both transactions.
    other = create_async_engine(database_url)
    sessions = async_sessionmaker(
        app.state.engine, class_=Session, binds={ClinicRow.__table__: other}
    )
    try:
        async with sessions() as db:
            await read_rows(db, NOW, {})
            await db.execute(select(ClinicRow.id).limit(1))
            assert not await commit_sent_directly(db)
            await db.commit()
            assert not db.in_transaction()
    finally:
        await other.dispose()


async def test_a_commit_the_server_refuses_raises_sqlalchemys_error(app: FastAPI) -> None:
    async with app.state.sessionmaker() as db:
        await db.execute(text(DEFERRED_UNIQUE))
        await execute(db, INSERT_TWICE, {"x": 1})
        with pytest.raises(IntegrityError, match="direct_commit_probe"):
            await db.commit()
        # As SQLAlchemy's own failed commit leaves it: nothing more until rolled back.
        with pytest.raises(PendingRollbackError):
            await db.commit()
        with pytest.raises(InvalidRequestError):
            await read_rows(db, NOW, {})
        await db.rollback()
        # The connection is usable, and the refused transaction left nothing behind.
        await read_rows(db, NOW, {})
        probe = await db.execute(text("SELECT to_regclass('pg_temp.direct_commit_probe')"))
        assert probe.scalar_one() is None
        await db.commit()


def slow_at_commit(seconds: float) -> tuple[str, ...]:
    """Statements that make the transaction's COMMIT take `seconds` (a deferred trigger)."""
    return (
        "CREATE FUNCTION pg_temp.slow_commit() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$",
        "CREATE TEMP TABLE direct_commit_probe (x int) ON COMMIT DROP",
        "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON direct_commit_probe"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.slow_commit()",
    )


async def test_a_pool_filled_while_the_commit_was_sent_closes_the_connection_properly(
    small_pool: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    # The second session's connection is the overflow; the pool had room when its COMMIT was
    # sent, and the first session's connection fills it meanwhile. Returned now, the overflow
    # is closed, which waits for the server: SQLAlchemy's commit must do that part.
    engine = small_pool.kw["bind"]
    async with small_pool() as first, small_pool() as second:
        await read_rows(first, NOW, {})
        for statement in slow_at_commit(0.5):
            await second.execute(text(statement))
        await execute(second, INSERT_TWICE, {"x": 1})
        overflow = asyncpg_connection(second)
        committing = asyncio.create_task(second.commit())
        await asyncio.sleep(0.2)  # the COMMIT is at the server
        assert engine.pool.checkedin() == 0
        await first.commit()
        assert engine.pool.checkedin() == 1  # full
        await committing
        assert not second.in_transaction()
    assert_closed_quietly(overflow, caplog)
    assert engine.pool.checkedin() == 1
    assert engine.pool.checkedout() == 0


async def test_a_cancelled_commit_leaves_its_connection_to_be_dropped(app: FastAPI) -> None:
    # As SQLAlchemy treats an exit exception mid-COMMIT: whether it took place is unknown, so
    # the connection is not reused.
    async with app.state.sessionmaker() as db:
        for statement in slow_at_commit(5):
            await db.execute(text(statement))
        await execute(db, INSERT_TWICE, {"x": 1})
        direct = direct_connection(db)
        assert isinstance(direct, DirectConnection)
        commit = asyncio.create_task(db.commit())
        await asyncio.sleep(0.2)
        commit.cancel()
        with pytest.raises(asyncio.CancelledError):
            await commit
        assert direct.sync.invalidated
        await db.rollback()


async def test_a_session_inside_a_transaction_begun_outside_it_leaves_that_to_its_owner(
    app: FastAPI,
) -> None:
    # A test's usual isolation: the session joins a connection's transaction, and the owner
    # of that transaction rolls it back. The session's commit must not commit it.
    clinic_id = uuid.uuid4()
    async with app.state.engine.connect() as connection:
        outer = await connection.begin()
        async with Session(bind=connection, expire_on_commit=False) as db:
            db.add(ClinicRow(id=clinic_id, name="Joined", timezone="UTC"))
            await db.flush()
            await read_rows(db, NOW, {})
            assert not await commit_sent_directly(db)
            await db.commit()
        await outer.rollback()
    async with app.state.sessionmaker() as other:
        assert await read_rows(other, CLINIC_NAME, {"clinic_id": clinic_id}) == []


@pytest.mark.parametrize("name", ["before_commit", "after_commit", "after_transaction_end"])
async def test_a_session_with_commit_listeners_commits_sqlalchemys_way(
    app: FastAPI, name: str
) -> None:
    heard: list[str] = []
    async with app.state.sessionmaker() as db:
        event.listen(db.sync_session, name, lambda *_: heard.append(name))
        await read_rows(db, NOW, {})
        assert not await commit_sent_directly(db)  # a listener may need to run before it
        await db.commit()
    assert heard == [name]


async def test_a_connection_with_commit_listeners_commits_sqlalchemys_way(app: FastAPI) -> None:
    heard: list[str] = []
    async with app.state.sessionmaker() as db:
        await read_rows(db, NOW, {})
        connection = await db.connection()
        event.listen(connection.sync_connection, "commit", lambda *_: heard.append("commit"))
        assert not await commit_sent_directly(db)
        await db.commit()
    assert heard == ["commit"]


async def test_a_connection_goes_back_to_its_own_pool_after_the_engine_is_disposed(
    small_pool: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    # Both connections were lent by the pool the engine had before `dispose()`; the first one
    # back fills it, so the second, its overflow, is closed on return, whatever room the
    # engine's new pool has.
    engine = small_pool.kw["bind"]
    async with small_pool() as first, small_pool() as second:
        await read_rows(first, NOW, {})
        await read_rows(second, NOW, {})
        overflow = asyncpg_connection(second)
        await engine.dispose(close=False)
        await first.commit()
        assert engine.pool.checkedin() < engine.pool.size()  # the new pool has room
        assert not await commit_sent_directly(second)
        await second.commit()
    assert_closed_quietly(overflow, caplog)
