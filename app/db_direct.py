"""Statements of the hot read path: on asyncpg, sent straight to the driver.

The journey and the worklist send statements built once. SQLAlchemy's execution does the same
work for each of them on every request: the statement's cache key, the compiled-cache lookup,
an execution context, parameter processing and result metadata, the switch into a greenlet and
back: about 70 µs of CPU per statement on top of the driver's own, which for a journey was a
tenth of its CPU (docs/performance.md). Here a statement is compiled once for the dialect (its
SQL text, parameter order, bind and result processors kept as a `Plan`) and each execution
sends the text to asyncpg on the session's own connection and transaction, as the asyncpg
adapter SQLAlchemy uses would (its lock, its transaction, its prepared statements, its errors),
but without the adapter's cursor: its description tuples, its row deque and its row count,
parsed from the status by a regular expression, cost about 35,000 instructions per statement,
3 % of a journey (docs/performance.md, ninth pass). What SQLAlchemy's execution does around a
statement is kept: the engine's cursor events fire, the prepared statements follow the
dialect's schema cache, and a failure goes through SQLAlchemy's own handling (wrapped as its
`DBAPIError`, a lost server invalidating the pool and answering 503, a stale prepared statement
invalidating the schema cache so the next execution prepares again). SQLite takes the usual
path, and so does a statement whose text changes per execution (an expanding IN list).

For the journey's and worklist's reads (`read_rows`, `read_tuples`), the audit rows every
request writes (`execute`); app/db_commit.py sends the COMMIT that ends a request, and
app/db_held.py holds a direct answer's connection below the ORM session. The plans are
app/db_plans.py's.
"""

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn

from sqlalchemy import Dialect, Executable
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from app.db_plans import Plan, named_row, plan_of

Rows = Sequence[Any]
"""Named tuples on every database: each indexes, unpacks and names its fields (`row.id`,
`row._fields`), and has nothing else, so code that works on SQLite works on PostgreSQL."""


async def read_rows(db: AsyncSession, statement: Executable, parameters: Mapping[str, Any]) -> Rows:
    """A read's rows as named tuples, sent on the session's connection without the ORM: an
    entity selected comes back as its columns. Pending changes of the session are flushed
    first, so a read sees what the unit of work has written."""
    if _pending(db):
        await db.flush()
    sent = await _sent_directly(db, statement, parameters, named=True)
    if sent is not _NOT_SENT:
        rows: Rows = sent  # annotated, not cast: typing.cast is a call on every read
        return rows
    result = await (await db.connection()).execute(statement, parameters)
    make = named_row(tuple(result.keys()))._make
    return [make(row) for row in result]


async def read_tuples(
    db: AsyncSession, statement: Executable, parameters: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """`read_rows` for a caller that only indexes or unpacks each row: on asyncpg no named
    tuple is made per row, and a row with nothing to convert comes back as the driver read it
    (a worklist reads some two hundred rows of window facts and a hundred sessions)."""
    if _pending(db):
        await db.flush()
    sent = await _sent_directly(db, statement, parameters, named=False)
    if sent is not _NOT_SENT:
        rows: Sequence[Sequence[Any]] = sent
        return rows
    return (await (await db.connection()).execute(statement, parameters)).all()


async def execute(db: AsyncSession, statement: Executable, parameters: Mapping[str, Any]) -> None:
    """One execution of a statement that returns no rows (an INSERT), on the session's
    connection; pending changes are not flushed (the caller writes its own rows)."""
    if await _sent_directly(db, statement, parameters, named=False) is _NOT_SENT:
        await (await db.connection()).execute(statement, parameters)


def _pending(db: AsyncSession) -> bool:
    """Whether the session has changes to flush: what its own flush asks first. Its `new`,
    `dirty` and `deleted` would each build a set, through the async proxy, on every read."""
    return not db.sync_session._is_clean()


_NOT_SENT = object()


async def _sent_directly(
    db: AsyncSession, statement: Executable, parameters: Mapping[str, Any], *, named: bool
) -> Any:
    """The statement's rows, sent straight to the driver adapter; `_NOT_SENT` when SQLAlchemy
    must send it (not asyncpg, or a statement without a plan), which a direct answer's session
    refuses (app/db_held.py)."""
    direct = direct_connection(db)
    if direct is None:
        if db.get_bind().dialect.driver != "asyncpg":
            return _NOT_SENT
        direct = await _direct(db)
    plan = plan_of(statement, direct.dialect)
    if plan is None:
        return _NOT_SENT
    return await direct.send(plan, parameters, named=named)


class Sender(abc.ABC):
    """A connection in its transaction that statements are sent to directly: the session's
    (DirectConnection, below) or one a direct answer's session holds itself
    (app/db_held.py)."""

    __slots__ = ()
    adapter: Any  # SQLAlchemy's asyncpg adapter (a DB-API connection over asyncpg)

    @property
    @abc.abstractmethod
    def dialect(self) -> Dialect: ...

    @abc.abstractmethod
    def current(self, db: AsyncSession) -> bool:
        """Whether statements of `db` go here now."""

    @abc.abstractmethod
    def with_events(self) -> Connection | None:
        """The SQLAlchemy connection whose cursor events a statement fires, if any listen."""

    @abc.abstractmethod
    async def failed(
        self, error: BaseException, sql: str, arguments: list[Any], cursor: Any
    ) -> NoReturn:
        """Raise `error` as SQLAlchemy's execution would (see `raise_as_sqlalchemy`)."""

    async def send(self, plan: Plan, parameters: Mapping[str, Any], *, named: bool) -> Any:
        sql, adapter = plan.sql, self.adapter
        arguments = plan.bind(parameters)
        dialect: Any = self.dialect  # the asyncpg dialect, whose schema cache this is
        events = self.with_events()
        # A cursor only for the events, which are handed one. It does not run the statement, so
        # its description and row count stay unset: listeners read the statement and values.
        cursor = adapter.cursor() if events is not None else None
        if events is not None:
            events.dispatch.before_cursor_execute(events, cursor, sql, arguments, None, False)
        try:
            records, attributes = await _fetch(
                adapter, sql, arguments, dialect._invalidate_schema_cache_asof
            )
        except BaseException as error:  # cancellation too: SQLAlchemy drops the connection
            await self.failed(error, sql, arguments, cursor)
        if events is not None:
            events.dispatch.after_cursor_execute(events, cursor, sql, arguments, None, False)
        return plan.rows(records, attributes, dialect, named=named)


class DirectConnection(Sender):
    """The session's connection in its current transaction, and the driver adapter under it."""

    __slots__ = ("adapter", "connection", "sync", "transaction")

    def __init__(
        self,
        transaction: SessionTransaction,
        connection: AsyncConnection,
        sync: Connection,
        adapter: Any,
    ) -> None:
        self.transaction = transaction
        self.connection = connection
        self.sync = sync
        self.adapter = adapter

    @property
    def dialect(self) -> Dialect:
        return self.sync.dialect

    def current(self, db: AsyncSession) -> bool:
        transaction = self.transaction
        return (
            transaction is db.sync_session.get_transaction()
            and transaction.is_active
            and not self.sync.invalidated
        )

    def with_events(self) -> Connection | None:
        sync = self.sync
        return sync if sync._has_events or sync.engine._has_events else None

    async def failed(
        self, error: BaseException, sql: str, arguments: list[Any], cursor: Any
    ) -> NoReturn:
        await self.connection.run_sync(raise_as_sqlalchemy, error, sql, arguments, cursor)
        raise AssertionError("not reached: SQLAlchemy raises the error")


async def _fetch(
    adapter: Any, sql: str, arguments: list[Any], schema_cache_asof: float
) -> tuple[Sequence[Any], Sequence[Any]]:
    """A statement's records and the server's description of its columns: the adapter
    cursor's `_prepare_and_execute` (SQLAlchemy 2.1) step for step, less what only a DB-API
    cursor keeps (see the module's docstring)."""
    mutex = adapter._execute_mutex
    await mutex.acquire()  # what `async with` does, without its two calls around it
    try:
        if adapter._transaction is None:
            await adapter._start_transaction()  # raises its own errors as DB-API ones
        try:
            prepared, attributes = await adapter._prepare(sql, schema_cache_asof)
            return await prepared.fetch(*arguments), attributes
        except Exception as error:
            adapter._handle_exception(error)
            raise  # not reached: the adapter raises the error as its DB-API one
    finally:
        mutex.release()


def pool_keeps(pooled: PoolProxiedConnection) -> bool:
    """Whether the pool a connection goes back to has room for it: one it would close on
    return (an overflow connection, the pool being full) closes by waiting for the server. The
    connection's own pool, which after `engine.dispose()` is no longer the engine's."""
    pool = pooled._pool
    return isinstance(pool, QueuePool) and pool.checkedin() < pool.size()


_DIRECT = "kap.direct"  # the key of the session's Sender in its `info`
HELD = "kap.held"
"""The key, in a session's `info`, of the coroutine function that gives the connection the
session holds itself (app/db_held.py), if it holds one."""


def direct_connection(db: AsyncSession) -> Sender | None:
    """The connection the session's statements went to the driver on, in its current
    transaction; None if none went there in it."""
    direct: Sender | None = db.info.get(_DIRECT)
    return direct if direct is not None and direct.current(db) else None


async def _direct(db: AsyncSession) -> Sender:
    """The session's connection in its transaction, kept in the session's `info` for the
    statements after it (`_sent_directly` asks there first): asking the session is a hop into
    a greenlet and back, and a journey sends half a dozen reads."""
    held: Callable[[], Awaitable[Sender]] | None = db.info.get(HELD)
    if held is not None:
        direct: Sender = await held()
        db.info[_DIRECT] = direct
        return direct
    connection = await db.connection()
    transaction, sync = db.sync_session.get_transaction(), connection.sync_connection
    assert transaction is not None  # db.connection() began one
    assert sync is not None
    # Just checked out by db.connection(): the property hands the pooled connection over with
    # no I/O, where AsyncConnection.get_raw_connection() takes a greenlet to read it.
    raw = sync.connection
    direct = DirectConnection(transaction, connection, sync, raw.dbapi_connection)
    db.info[_DIRECT] = direct
    return direct


def raise_as_sqlalchemy(
    sync: Connection, error: BaseException, sql: str, arguments: list[Any], cursor: Any
) -> None:
    """SQLAlchemy's handling of a failed statement (`handle_error` events, wrapped as its
    DBAPIError, a disconnect or a cancellation invalidating the connection), with what its
    asyncpg execution context adds: a prepared statement the server calls stale invalidates the
    dialect's schema cache, so the next execution prepares again."""
    try:
        raise error  # SQLAlchemy reads the exception being handled (sys.exc_info) in here
    except BaseException as handled:
        dbapi = sync.dialect.loaded_dbapi
        if isinstance(handled, (dbapi.InvalidCachedStatementError, dbapi.InternalServerError)):
            sync.dialect._invalidate_schema_cache()  # type: ignore[attr-defined]
        sync._handle_dbapi_exception(handled, sql, arguments, cursor, None)
