"""A direct answer's session: its transaction on a pooled connection it holds itself (issue 17).

The journey and the worklist send every statement straight to the driver (app/db_direct.py).
Around those statements the ORM session still took the connection and ended the transaction
its own way: a hop into a greenlet for the connection, a session transaction, a `Connection`
and its root transaction, the commit's bookkeeping and the close, for a session that holds no
objects: 6 % of a journey's instructions, 7-9 % of its CPU (docs/performance.md, fifteenth
pass).

`DirectSession` keeps the session's type, so the code a direct answer runs is the code every
other route runs, but holds its connection itself: taken from the engine's pool (with the
pool's events: the ping of a connection left idle), BEGIN sent with the first statement,
COMMIT or ROLLBACK sent by hand, the connection given back when the session closes. A
statement that fails goes through SQLAlchemy's own handling, on a `Connection` made around the
held connection for it (a lost server invalidating the pool and answering 503, a cancelled
statement dropping the connection, a stale prepared statement invalidating the schema cache),
and so does a COMMIT or ROLLBACK that fails. Anything that would use the ORM (an entity
loaded or flushed, `execute`, `connection`) is refused: it would run on a connection and in a
transaction of its own, outside the one the answer commits.
"""

import asyncio
from typing import Any, NoReturn

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from app.db import Session
from app.db_direct import HELD, Sender, pool_keeps, raise_as_sqlalchemy

REFUSED = "a direct answer's session sends statements through app/db_direct.py only"


class _NoOrm(SyncSession):
    """The sync session under a DirectSession: it has nothing to bind to."""

    def get_bind(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise InvalidRequestError(REFUSED)


class HeldConnection(Sender):
    """A pooled connection a DirectSession holds, and its transaction on the driver."""

    __slots__ = ("_sync", "adapter", "engine", "pooled")

    def __init__(self, engine: Engine, pooled: PoolProxiedConnection) -> None:
        self.engine = engine
        self.pooled = pooled
        self.adapter = pooled.dbapi_connection
        self._sync: Connection | None = None

    @property
    def dialect(self) -> Any:
        return self.engine.dialect

    @property
    def usable(self) -> bool:
        """Neither given back nor dropped after a failure."""
        return self.pooled.is_valid

    def current(self, db: AsyncSession) -> bool:
        return self.usable

    def _connection(self) -> Connection:
        """SQLAlchemy's connection around the held one, made when events or a failure need it
        (it fires `engine_connect` for the listeners there are)."""
        if self._sync is None:
            self._sync = Connection(self.engine, connection=self.pooled)
        return self._sync

    def with_events(self) -> Connection | None:
        return self._connection() if self.engine._has_events else None

    async def failed(
        self, error: BaseException, sql: str, arguments: list[Any], cursor: Any
    ) -> NoReturn:
        sync = self._connection()
        await greenlet_spawn(raise_as_sqlalchemy, sync, error, sql, arguments, cursor)
        raise AssertionError("not reached: SQLAlchemy raises the error")

    async def end(self, *, commit: bool) -> None:
        """COMMIT or ROLLBACK the driver's transaction, if a statement began one. The server
        has ended it either way, so the adapter forgets it before a failure is handled."""
        adapter = self.adapter
        transaction = adapter._transaction
        if transaction is None or not self.usable:
            return
        try:
            try:
                await (transaction.commit() if commit else transaction.rollback())
            except Exception as error:
                adapter._handle_exception(error)  # raises it as the adapter's DB-API error
        except BaseException as error:
            adapter._transaction = None
            await self.failed(error, "COMMIT" if commit else "ROLLBACK", [], None)
        adapter._transaction = None

    async def give_back(self) -> None:
        """Return the connection to its pool: at once when that needs no I/O (no transaction
        left to roll back, and a pool that keeps it), else in a greenlet, shielded from
        cancellation as SQLAlchemy's own close is: the pool rolls back what is left (dropping
        the connection if that fails) or closes a connection it does not keep (an overflow
        one, the pool being full)."""
        if not self.usable:
            return  # dropped: SQLAlchemy's handling gave it back, invalidated
        if self.adapter._transaction is None and pool_keeps(self.pooled):
            self.pooled.close()
        else:
            await asyncio.shield(asyncio.ensure_future(greenlet_spawn(self.pooled.close)))


def _check_out(engine: Engine) -> PoolProxiedConnection:
    """A connection from the engine's pool, a failure to connect raised as SQLAlchemy raises it
    for a `Connection` (its DBAPIError: the error handlers answer 503 database_unavailable)."""
    try:
        return engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as error:
        Connection._handle_dbapi_exception_noconnection(error, engine.dialect, engine)
        raise  # not reached: SQLAlchemy raises it wrapped


class DirectSession(Session):
    """A session whose statements all go to a connection it holds (see the module)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, sync_session_class=_NoOrm, expire_on_commit=False)
        self._engine = engine.sync_engine
        self._held: HeldConnection | None = None
        self.info[HELD] = self._hold

    async def _hold(self) -> HeldConnection:
        """The held connection, taken from the pool on the first statement, and again after a
        failure dropped the one before."""
        held = self._held
        if held is None or not held.usable:
            pooled = await greenlet_spawn(_check_out, self._engine)  # may connect or ping
            held = self._held = HeldConnection(self._engine, pooled)
        return held

    def get_bind(self, *args: Any, **kwargs: Any) -> Engine:
        return self._engine  # what the app asks it for: the dialect

    async def connection(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise InvalidRequestError(REFUSED)

    async def commit(self) -> None:
        if self._held is not None:
            await self._held.end(commit=True)

    async def rollback(self) -> None:
        if self._held is not None:
            await self._held.end(commit=False)

    async def close(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            await held.give_back()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        await self.close()
