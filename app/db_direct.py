"""Statements of the hot read path: on PostgreSQL, sent straight to the driver adapter.

The journey and the worklist send statements built once at import. SQLAlchemy's execution does
the same work for each of them on every request: the statement's cache key, the compiled-cache
lookup, an execution context, parameter processing and result metadata, the switch into a
greenlet and back: about 70 µs of CPU per statement on top of the driver's own, which for a
journey was a tenth of its CPU (docs/performance.md). Here a statement is compiled once for the
dialect (its SQL text, parameter order, bind and result processors kept as a `_Plan`) and each
execution sends the text through the same asyncpg adapter SQLAlchemy uses, on the session's own
connection and transaction, with SQLAlchemy's cursor events fired and its error handling applied
(a lost server invalidates the pool and answers 503, as before). SQLite takes the usual path.

Only for statements that are module constants (a plan is kept per statement object): the
journey's and worklist's reads (`read_rows`) and the audit rows every request writes (`execute`).
"""

import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Dialect, Executable, Row
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Processor = Callable[[Any], Any]
Rows = Sequence[Row[*tuple[Any, ...]]]
"""Rows of any width: each indexes, unpacks and names its fields."""


@dataclass(slots=True)
class _Argument:
    name: str
    process: Processor | None
    default: Any  # the value bound in the statement itself, for parameters not passed


@dataclass(slots=True)
class _Plan:
    statement: Executable  # kept alive, so its id is not reused while the plan exists
    compiled: SQLCompiler
    sql: str
    arguments: tuple[_Argument, ...]
    row: type[NamedTuple]
    results: list[Processor | None] | None = None  # known after the first execution

    def bind(self, parameters: Mapping[str, Any]) -> list[Any]:
        values = []
        for argument in self.arguments:
            value = parameters.get(argument.name, argument.default)
            values.append(value if argument.process is None else argument.process(value))
        return values

    def rows(
        self,
        records: Sequence[Any],
        description: Sequence[Any] | None,
        dialect: Dialect,
        *,
        named: bool = True,
    ) -> Any:
        if description is None:  # a statement without rows
            return []
        if self.results is None:
            # Result processors depend on the column's type as the server describes it.
            self.results = [
                column[3]._cached_result_processor(dialect, described[1])
                for column, described in zip(
                    self.compiled._result_columns, description, strict=True
                )
            ]
        results = self.results
        if any(results):
            records = [
                [value if p is None else p(value) for p, value in zip(results, record, strict=True)]
                for record in records
            ]
        # The driver's records index and unpack as tuples do; only names need a tuple made.
        return list(map(self.row._make, records)) if named else records


_PLANS: dict[int, _Plan | None] = {}
"""Plan per statement id; None for a statement the plain path must take (an expanding IN)."""


def _plan(statement: Executable, dialect: Dialect) -> _Plan | None:
    compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None  # its text changes per execution: SQLAlchemy renders it each time
    processors = compiled._bind_processors
    names = compiled.positiontup or []
    arguments = tuple(
        _Argument(
            name, cast(Processor | None, processors.get(name)), compiled.binds[name].effective_value
        )
        for name in names
    )
    keys = [column[0] for column in compiled._result_columns]
    row = cast(type[NamedTuple], collections.namedtuple("Row", keys))
    return _Plan(statement, compiled, compiled.string, arguments, row)


async def read_rows(db: AsyncSession, statement: Executable, parameters: Mapping[str, Any]) -> Rows:
    """A read's rows, sent on the session's connection without the ORM: an entity selected
    comes back as its columns (named tuples on PostgreSQL, SQLAlchemy rows elsewhere: both
    index, unpack and name their fields). Pending changes are flushed first, as the ORM's
    autoflush would."""
    if db.new or db.dirty or db.deleted:
        await db.flush()
    dialect = db.get_bind().dialect
    if dialect.name == "postgresql":
        plan = _plan_of(statement, dialect)
        if plan is not None:
            return cast(Rows, await (await _direct(db)).send(plan, parameters))
    return (await (await db.connection()).execute(statement, parameters)).all()


async def read_tuples(
    db: AsyncSession, statement: Executable, parameters: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """`read_rows` for a caller that only indexes or unpacks each row: on PostgreSQL no named
    tuple is made per row, and a row with nothing to convert comes back as the driver read it
    (a worklist reads some seven hundred rows of window facts and a hundred sessions)."""
    if db.new or db.dirty or db.deleted:
        await db.flush()
    dialect = db.get_bind().dialect
    if dialect.name == "postgresql":
        plan = _plan_of(statement, dialect)
        if plan is not None:
            return cast(
                Sequence[Sequence[Any]],
                await (await _direct(db)).send(plan, parameters, named=False),
            )
    return (await (await db.connection()).execute(statement, parameters)).all()


async def execute(db: AsyncSession, statement: Executable, parameters: Mapping[str, Any]) -> None:
    """One execution of a statement that returns no rows (an INSERT), on the session's
    connection; pending changes are not flushed (the caller writes its own rows)."""
    dialect = db.get_bind().dialect
    if dialect.name == "postgresql":
        plan = _plan_of(statement, dialect)
        if plan is not None:
            await (await _direct(db)).send(plan, parameters)
            return
    await (await db.connection()).execute(statement, parameters)


def _plan_of(statement: Executable, dialect: Dialect) -> _Plan | None:
    key = id(statement)
    if key not in _PLANS:
        _PLANS[key] = _plan(statement, dialect)
    return _PLANS[key]


@dataclass(slots=True)
class _Direct:
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

    async def send(self, plan: _Plan, parameters: Mapping[str, Any], *, named: bool = True) -> Any:
        sync, sql = self.sync, plan.sql
        arguments = plan.bind(parameters)
        cursor = self.adapter.cursor()
        events = sync._has_events or sync.engine._has_events
        if events:
            sync.dispatch.before_cursor_execute(sync, cursor, sql, arguments, None, False)
        try:
            # The adapter's own execution: it begins the transaction if none is open, prepares
            # through its statement cache and turns driver errors into DB-API ones.
            await cursor._prepare_and_execute(sql, arguments)
        except Exception as error:  # handed to SQLAlchemy, which raises it as its own
            await self.connection.run_sync(_raise_as_sqlalchemy, error, sql, arguments, cursor)
        if events:
            sync.dispatch.after_cursor_execute(sync, cursor, sql, arguments, None, False)
        return plan.rows(cursor._rows, cursor.description, sync.dialect, named=named)


_DIRECT = "kap.direct"  # the key of the session's _Direct in its `info`


async def _direct(db: AsyncSession) -> _Direct:
    """The session's connection, asked of the session once per transaction: each asking is
    two hops into a greenlet and back, and a journey sends half a dozen reads."""
    known: _Direct | None = db.info.get(_DIRECT)
    if known is not None and known.current(db):
        return known
    connection = await db.connection()
    raw = await connection.get_raw_connection()
    transaction, sync = db.sync_session.get_transaction(), connection.sync_connection
    assert transaction is not None  # db.connection() began one
    assert sync is not None
    direct = _Direct(transaction, connection, sync, raw.dbapi_connection)
    db.info[_DIRECT] = direct
    return direct


def _raise_as_sqlalchemy(
    sync: Connection, error: Exception, sql: str, arguments: list[Any], cursor: Any
) -> None:
    """SQLAlchemy's handling of a failed statement: wrapped as its DBAPIError, a disconnect
    invalidating the connection (and the pool's older ones), `handle_error` events fired."""
    sync._handle_dbapi_exception(error, sql, arguments, cursor, None)
