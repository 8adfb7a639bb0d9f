"""Statements of the hot read path: on asyncpg, sent straight to the driver.

The journey and the worklist send statements built once. SQLAlchemy's execution does the same
work for each of them on every request: the statement's cache key, the compiled-cache lookup,
an execution context, parameter processing and result metadata, the switch into a greenlet and
back: about 70 µs of CPU per statement on top of the driver's own, which for a journey was a
tenth of its CPU (docs/performance.md). Here a statement is compiled once for the dialect (its
SQL text, parameter order, bind and result processors kept as a `_Plan`) and each execution
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
request writes (`execute`); app/db_commit.py sends the COMMIT that ends a request. A plan
is kept per statement object for as long as the statement lives: the statements are module
constants or cached per clinic policy.
"""

import collections
import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Dialect, Enum, Executable
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any]
Rows = Sequence[Any]
"""Named tuples on every database: each indexes, unpacks and names its fields (`row.id`,
`row._fields`), and has nothing else, so code that works on SQLite works on PostgreSQL."""

_MISSING = object()


@dataclass(slots=True)
class _Argument:
    name: str
    process: Processor | None
    required: bool  # no value in the statement: the caller must pass one
    default: Any  # the value bound in the statement itself, for parameters not passed


@dataclass(slots=True)
class _Plan:
    sql: str
    arguments: tuple[_Argument, ...]
    row: type[NamedTuple]
    result_types: list[TypeEngine[Any]]
    # The columns that have a result processor, by index: known after the first execution.
    results: list[tuple[int, Processor]] | None = None

    def bind(self, parameters: Mapping[str, Any]) -> list[Any]:
        values = []
        for argument in self.arguments:
            value = parameters.get(argument.name, _MISSING)
            if value is _MISSING:
                if argument.required:  # as SQLAlchemy refuses it, rather than send NULL
                    raise InvalidRequestError(
                        f"A value is required for bind parameter {argument.name!r}"
                    )
                value = argument.default
            values.append(value if argument.process is None else argument.process(value))
        return values

    def rows(
        self,
        records: Sequence[Any],
        attributes: Sequence[Any],
        dialect: Dialect,
        *,
        named: bool,
    ) -> Any:
        if not attributes:  # a statement without rows
            return []
        if self.results is None:
            # Result processors depend on the column's type as the server describes it.
            processors = [
                _result_processor(kind, dialect, attribute.type.oid)
                for kind, attribute in zip(self.result_types, attributes, strict=True)
            ]
            self.results = [(i, p) for i, p in enumerate(processors) if p is not None]
        if self.results:
            # Only the columns that have one (a session's enums: 4 of its 44 columns).
            processed = []
            for record in records:
                values = list(record)
                for index, process in self.results:
                    values[index] = process(values[index])
                processed.append(values)
            records = processed
        # The driver's records index and unpack as tuples do; only names need a tuple made.
        return list(map(self.row._make, records)) if named else records


def _result_processor(kind: TypeEngine[Any], dialect: Dialect, oid: int) -> Processor | None:
    """The column's result processor as SQLAlchemy's execution runs it, but for an enum that
    SQLAlchemy's own Enum processor reads: that processor's lookup from stored value to member
    (None to None), called directly. It wraps the lookup in two Python calls per value, and a
    worklist reads some 270 enum values. An enum type that changes how values are read (its own
    processor or lookup, or a string processor beneath) keeps SQLAlchemy's way."""
    processor = kind._cached_result_processor(dialect, oid)
    impl = kind.dialect_impl(dialect)
    if processor is None or not isinstance(impl, Enum):
        return processor
    own = type(impl)
    if (
        own.result_processor is not Enum.result_processor
        or own._object_value_for_elem is not Enum._object_value_for_elem
        or super(Enum, impl).result_processor(dialect, oid) is not None
    ):
        return processor
    return _Members(impl).__getitem__


class _Members(dict[Any, Any]):
    """An enum type's stored values and their members; a value it does not know is refused by
    the type itself, with SQLAlchemy's message naming the enum and what it allows."""

    def __init__(self, enum: Enum) -> None:
        super().__init__(enum._object_lookup)
        self._enum = enum

    def __missing__(self, value: Any) -> Any:
        return self._enum._object_value_for_elem(value)  # raises its LookupError


_PLANS: weakref.WeakKeyDictionary[Executable, _Plan | None] = weakref.WeakKeyDictionary()
"""Plan per statement, gone with the statement; None for one SQLAlchemy must render each time."""


def _plan(statement: Executable, dialect: Dialect) -> _Plan | None:
    compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None  # its text changes per execution: SQLAlchemy renders it each time
    binds = compiled.binds
    if any(bind.callable is not None for bind in binds.values()):
        return None  # a value computed at each execution
    processors = compiled._bind_processors
    arguments = tuple(
        _Argument(
            name,
            cast(Processor | None, processors.get(name)),
            binds[name].required,
            binds[name].effective_value,
        )
        for name in compiled.positiontup or []
    )
    columns = compiled._result_columns
    row = _named_row(tuple(column[0] for column in columns))
    return _Plan(compiled.string, arguments, row, [column[3] for column in columns])


@functools.cache
def _named_row(fields: tuple[str, ...]) -> type[NamedTuple]:
    return cast(type[NamedTuple], collections.namedtuple("Row", fields))


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
    make = _named_row(tuple(result.keys()))._make
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
    must send it (not asyncpg, or a text that changes per execution)."""
    direct = direct_connection(db)
    if direct is None:
        if db.get_bind().dialect.driver != "asyncpg":
            return _NOT_SENT
        direct = await _direct(db)
    plan = _plan_of(statement, direct.sync.dialect)
    if plan is None:
        return _NOT_SENT
    return await direct.send(plan, parameters, named=named)


def _plan_of(statement: Executable, dialect: Dialect) -> _Plan | None:
    try:
        return _PLANS[statement]
    except KeyError:
        plan = _PLANS[statement] = _plan(statement, dialect)
        return plan


@dataclass(slots=True)
class DirectConnection:
    """The session's connection in its current transaction, and the driver adapter under it."""

    transaction: SessionTransaction
    connection: AsyncConnection
    sync: Connection
    adapter: Any  # SQLAlchemy's asyncpg adapter (a DB-API connection over asyncpg)

    def current(self, db: AsyncSession) -> bool:
        transaction = self.transaction
        return (
            transaction is db.sync_session.get_transaction()
            and transaction.is_active
            and not self.sync.invalidated
        )

    async def send(self, plan: _Plan, parameters: Mapping[str, Any], *, named: bool) -> Any:
        sync, sql, adapter = self.sync, plan.sql, self.adapter
        arguments = plan.bind(parameters)
        dialect: Any = sync.dialect  # the asyncpg dialect, whose schema cache this is
        events = sync._has_events or sync.engine._has_events
        # A cursor only for the events, which are handed one. It does not run the statement, so
        # its description and row count stay unset: listeners read the statement and values.
        cursor = adapter.cursor() if events else None
        if events:
            sync.dispatch.before_cursor_execute(sync, cursor, sql, arguments, None, False)
        try:
            records, attributes = await _fetch(
                adapter, sql, arguments, dialect._invalidate_schema_cache_asof
            )
        except BaseException as error:  # cancellation too: SQLAlchemy drops the connection
            await self.connection.run_sync(_raise_as_sqlalchemy, error, sql, arguments, cursor)
        if events:
            sync.dispatch.after_cursor_execute(sync, cursor, sql, arguments, None, False)
        return plan.rows(records, attributes, dialect, named=named)


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


_DIRECT = "kap.direct"  # the key of the session's DirectConnection in its `info`


def direct_connection(db: AsyncSession) -> DirectConnection | None:
    """The connection the session's statements went to the driver on, in its current
    transaction; None if none went there in it."""
    direct: DirectConnection | None = db.info.get(_DIRECT)
    return direct if direct is not None and direct.current(db) else None


async def _direct(db: AsyncSession) -> DirectConnection:
    """The session's connection in its transaction, kept in the session's `info` for the
    statements after it (`_sent_directly` asks there first): asking the session is a hop into
    a greenlet and back, and a journey sends half a dozen reads."""
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


def _raise_as_sqlalchemy(
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
