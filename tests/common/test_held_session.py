"""A direct answer's session holds its connection itself (app/db_held.py), below the ORM.

What it commits is there and what it rolls back is not; the connection goes back to the pool
when the session closes (closed properly when the pool does not keep it); a failure goes
through SQLAlchemy's own handling (its errors, a lost or cancelled connection dropped, the next
statement on a fresh one); the engine's cursor events see the statements; anything that would
use the ORM is refused; and the app's direct answers run in one. That the answers, their
headers and their audit rows are those FastAPI's routes give is tests/common/test_direct_answers.py.
"""

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Integer, bindparam, event, func, make_url, select, text
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InvalidRequestError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from app import unit_of_work
from app.clinics.models import Clinic as ClinicRow
from app.config import Settings
from app.db import create_engine
from app.db_direct import direct_connection, execute, read_rows
from app.db_held import DirectSession, HeldConnection
from tests.support.factories import Clinic, bearer

pytestmark = pytest.mark.usefixtures("postgresql_only")

PID = select(func.pg_backend_pid().label("pid"))
PROBE = text("SELECT x FROM held_probe ORDER BY x").columns(x=Integer)
INSERT = text("INSERT INTO held_probe (x) VALUES (:x)").bindparams(bindparam("x", type_=Integer))


@pytest.fixture
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("a session holds its connection on asyncpg; SQLite's is SQLAlchemy's own")


@pytest.fixture
async def engine(app: FastAPI) -> AsyncIterator[AsyncEngine]:
    """The app's engine, with a table of its own for what the sessions write."""
    engine: AsyncEngine = app.state.engine
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE held_probe (x int UNIQUE)"))
    yield engine
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE held_probe"))


async def written(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        return [row.x for row in await connection.execute(PROBE)]


def pool_of(engine: AsyncEngine) -> QueuePool:
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool


def held(db: DirectSession) -> HeldConnection:
    direct = direct_connection(db)
    assert isinstance(direct, HeldConnection)
    return direct


async def test_what_it_commits_is_there_and_its_connection_goes_back(engine: AsyncEngine) -> None:
    async with DirectSession(engine) as db:
        await execute(db, INSERT, {"x": 1})
        assert pool_of(engine).checkedout() == 1
        assert await read_rows(db, PROBE, {}) == [(1,)]  # in its own transaction
        kept = held(db).adapter._connection
        assert await written(engine) == []  # not yet committed
        await db.commit()
    assert await written(engine) == [1]
    assert pool_of(engine).checkedout() == 0
    assert not kept.is_closed()  # given back, not dropped


async def test_what_it_rolls_back_is_not_there(engine: AsyncEngine) -> None:
    async with DirectSession(engine) as db:
        await execute(db, INSERT, {"x": 1})
        await db.rollback()
        await execute(db, INSERT, {"x": 2})  # the next transaction, on the same connection
        await db.commit()
    assert await written(engine) == [2]


async def test_a_session_closed_without_ending_its_transaction_rolls_it_back(
    engine: AsyncEngine,
) -> None:
    async with DirectSession(engine) as db:
        await execute(db, INSERT, {"x": 1})
    assert await written(engine) == []
    assert pool_of(engine).checkedout() == 0


async def test_a_session_that_sent_nothing_takes_no_connection(engine: AsyncEngine) -> None:
    async with DirectSession(engine) as db:
        await db.commit()
        assert direct_connection(db) is None
    assert pool_of(engine).checkedout() == 0


async def test_anything_that_would_use_the_orm_is_refused(engine: AsyncEngine) -> None:
    # It would run on a connection and in a transaction of its own, outside the answer's.
    async with DirectSession(engine) as db:
        with pytest.raises(InvalidRequestError, match=r"app/db_direct\.py"):
            await db.execute(select(ClinicRow.id))
        with pytest.raises(InvalidRequestError, match=r"app/db_direct\.py"):
            await db.get(ClinicRow, uuid.uuid4())
        with pytest.raises(InvalidRequestError, match=r"app/db_direct\.py"):
            await db.connection()
        db.add(ClinicRow(name="x", timezone="UTC"))
        with pytest.raises(InvalidRequestError, match=r"app/db_direct\.py"):
            await db.flush()
    assert pool_of(engine).checkedout() == 0


async def test_a_failing_statement_raises_sqlalchemys_error_and_the_session_goes_on(
    engine: AsyncEngine,
) -> None:
    async with DirectSession(engine) as db:
        await execute(db, INSERT, {"x": 1})
        with pytest.raises(ProgrammingError):
            await read_rows(db, text("SELECT * FROM no_such_table"), {})
        await db.rollback()  # as the unit of work does after a failure
        await execute(db, INSERT, {"x": 2})
        await db.commit()
    assert await written(engine) == [2]


async def test_a_commit_the_server_refuses_raises_sqlalchemys_error(engine: AsyncEngine) -> None:
    async with DirectSession(engine) as db:
        # Deferred: the duplicate is found by the COMMIT itself, not by the INSERT.
        unique = "x int UNIQUE DEFERRABLE INITIALLY DEFERRED"
        await execute(db, text(f"CREATE TEMP TABLE held_deferred ({unique}) ON COMMIT DROP"), {})
        for _ in range(2):
            await execute(db, text("INSERT INTO held_deferred VALUES (1)"), {})
        with pytest.raises(IntegrityError):
            await db.commit()
        await execute(db, INSERT, {"x": 3})  # the server ended that transaction: a new one
        await db.commit()
    assert await written(engine) == [3]
    assert pool_of(engine).checkedout() == 0


async def terminate(engine: AsyncEngine, pid: int) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_a_lost_connection_is_dropped_and_the_next_statement_takes_another(
    engine: AsyncEngine,
) -> None:
    async with DirectSession(engine) as db:
        [(pid,)] = await read_rows(db, PID, {})
        lost = held(db)
        await terminate(engine, pid)
        with pytest.raises(DBAPIError) as raised:
            await read_rows(db, PID, {})
        assert raised.value.connection_invalidated  # answered 503 database_unavailable
        assert not lost.usable
        await db.rollback()
        [(other,)] = await read_rows(db, PID, {})
        assert other != pid
        await db.commit()
    assert pool_of(engine).checkedout() == 0


async def test_a_cancelled_statement_leaves_its_connection_to_be_dropped(
    engine: AsyncEngine,
) -> None:
    # Whether the server is still running it is unknown: the connection is not reused.
    async with DirectSession(engine) as db:
        [(pid,)] = await read_rows(db, PID, {})
        slow = asyncio.create_task(read_rows(db, text("SELECT pg_sleep(5)"), {}))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert direct_connection(db) is None  # dropped
        [(other,)] = await read_rows(db, PID, {})
        assert other != pid
        await db.commit()
    assert pool_of(engine).checkedout() == 0


async def test_a_connection_the_pool_does_not_keep_is_closed_properly(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The second session's connection is the pool's overflow; the first one back fills the
    # pool, so the second is closed on its return, which waits for the server.
    engine = create_async_engine(database_url, pool_size=1, max_overflow=1)
    pool = pool_of(engine)
    try:
        async with DirectSession(engine) as first, DirectSession(engine) as second:
            await read_rows(first, PID, {})
            await read_rows(second, PID, {})
            overflow = held(second).adapter._connection
            await first.commit()
            await first.close()
            await second.commit()
        assert overflow.is_closed()
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert pool.checkedin() == 1
        assert pool.checkedout() == 0
    finally:
        await engine.dispose()


async def test_a_server_it_cannot_reach_is_sqlalchemys_error(database_url: str) -> None:
    # As a `Connection` raises it: the error handlers answer 503 database_unavailable.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = make_url(database_url).set(host="127.0.0.1", port=port)
    url = unreachable.render_as_string(hide_password=False)
    engine = create_engine(Settings(database_url=url, secret_key=SecretStr("test-secret-key")))
    try:
        async with DirectSession(engine) as db:
            with pytest.raises(OperationalError):
                await read_rows(db, PID, {})
    finally:
        await engine.dispose()


async def test_the_engines_cursor_events_see_its_statements(engine: AsyncEngine) -> None:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        async with DirectSession(engine) as db:
            await execute(db, INSERT, {"x": 1})
            await db.commit()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)
    assert seen == ["INSERT INTO held_probe (x) VALUES ($1::INTEGER)"]


async def test_the_apps_direct_answers_hold_their_connection(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[DirectSession] = []

    class Counted(DirectSession):
        def __init__(self, engine: AsyncEngine) -> None:
            super().__init__(engine)
            opened.append(self)

    monkeypatch.setattr(unit_of_work, "DirectSession", Counted)
    client = await clinic.client()
    journey = await http.get(
        f"/api/v1/clients/{client['id']}/journey", headers=bearer(clinic.admin_key)
    )
    assert journey.status_code == 200
    worklist = await http.get("/api/v1/worklists/integration", headers=bearer(clinic.admin_key))
    assert worklist.status_code == 200
    assert len(opened) == 2
    listed = await http.get("/api/v1/clients", headers=bearer(clinic.admin_key))
    assert listed.status_code == 200
    assert len(opened) == 2  # FastAPI's routes keep the ORM session
