"""Engine, session factory, the request unit of work and the dialect helpers."""

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    MetaData,
    Select,
    event,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from app.config import Settings
from app.db_commit import commit_sent_directly
from app.db_direct import HELD

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_TRANSACTION = "kap_write_transaction"
M = TypeVar("M")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that only accepts aware datetimes and always returns aware UTC ones.

    SQLite has no time zones, so values are stored there as naive UTC text
    ('YYYY-MM-DD HH:MM:SS.ffffff'); PostgreSQL stores timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        # asyncpg returns every timestamptz as an aware datetime in UTC: nothing to convert, so
        # no Python call per value read (a worklist reads thousands; docs/performance.md).
        if dialect.driver == "asyncpg":
            return self.impl_instance.result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # asyncpg's timestamptz already is: the common case, kept as is
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampedMixin:
    """created_at / updated_at set by the application clock in UTC."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=lambda: datetime.now(UTC))
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=lambda: datetime.now(UTC), onupdate=lambda: datetime.now(UTC)
    )


class VersionedMixin:
    """An integer version bumped by SQLAlchemy on every update; it is the resource's ETag.

    As the mapper's version_id_col it also guards against lost updates between requests.
    """

    version: Mapped[int] = mapped_column(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declared_attr takes the class
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def new_id() -> uuid.UUID:
    """A random UUID primary key."""
    return uuid.uuid4()


# --- Dialect helpers ---------------------------------------------------------------------------


class epoch_us(FunctionElement[int]):  # noqa: N801 - reads like the SQL function it stands for
    """Microseconds since the Unix epoch of a UTCDateTime column, exact on both databases."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT returns numeric since PostgreSQL 14, so the product is exact.
    return (
        f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000000 AS BIGINT)"
    )


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored text is 'YYYY-MM-DD HH:MM:SS.ffffff'. Whole seconds come from strftime on the first 19
    # characters (given the fraction, strftime rounds .9995 s up), micros from the tail.
    arg = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', substr({arg}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({arg}, 21, 6) AS INTEGER))"
    )


class from_epoch_us(FunctionElement[datetime]):  # noqa: N801 - reads like an SQL function
    """The instant of a count of microseconds since the Unix epoch (epoch_us's inverse), in the
    form a UTCDateTime column is stored in, so it can bound an index scan on one."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(from_epoch_us, "postgresql")
def _from_epoch_us_postgresql(element: from_epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # The count is cast to double for the product: exact for any count below 2**53 µs (the
    # year 2255), beyond the instants the API accepts.
    micros = compiler.process(element.clauses, **kw)
    return f"(TIMESTAMPTZ 'epoch' + ({micros}) * INTERVAL '1 microsecond')"


@compiles(from_epoch_us, "sqlite")
def _from_epoch_us_sqlite(element: from_epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # UTCDateTime's stored text: whole seconds by strftime, then the six digits of the fraction.
    # SQLite's / and % truncate toward zero; the fraction taken as a remainder of 0..999999
    # keeps instants before 1970 exact too.
    micros = compiler.process(element.clauses, **kw)
    fraction = f"((({micros}) % 1000000 + 1000000) % 1000000)"
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', (({micros}) - {fraction}) / 1000000, 'unixepoch')"
        f" || printf('.%06d', {fraction}))"
    )


def to_epoch_us(value: datetime) -> int:
    """The Python twin of epoch_us, for bound parameters."""
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def in_clinic(model: Any, clinic_id: uuid.UUID | ColumnElement[uuid.UUID]) -> ColumnElement[bool]:
    """The tenant condition: the one place a query is limited to a clinic (to a bound
    parameter's clinic in statements built once)."""
    column: ColumnElement[uuid.UUID] = getattr(model, "clinic_id")  # noqa: B009 - any tenant model
    return column == clinic_id


def clinic_scoped(model: type[M], clinic_id: uuid.UUID) -> Select[M]:
    """SELECT of a tenant table limited to one clinic: how repository queries start."""
    return select(model).where(in_clinic(model, clinic_id))


async def insert_if_absent(
    db: AsyncSession, model: type[Base], values: dict[str, Any], unique: list[str]
) -> bool:
    """INSERT ... ON CONFLICT (unique) DO NOTHING; True when this row went in.

    The race-free way to claim a key: a concurrent duplicate waits for the first and then
    inserts nothing, instead of failing the whole transaction.
    """
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    id_column = model.__table__.c.id
    stmt = insert(model).values(**values).on_conflict_do_nothing(index_elements=unique)
    inserted = await db.execute(stmt.returning(id_column))
    return inserted.scalar_one_or_none() is not None


# --- Engine and sessions -----------------------------------------------------------------------


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for write units of work."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy so BEGIN can be IMMEDIATE when we write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that later writes can fail at once with SQLITE_BUSY; taking the
        # write lock up front lets the busy timeout queue concurrent writers instead.
        write = connection.get_execution_options().get(WRITE_TRANSACTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine for the configured database, tuned per dialect."""
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    connect_args: dict[str, Any] = {"timeout": settings.database_connect_timeout_seconds}
    if not settings.database_statement_cache:
        # Both caches: SQLAlchemy's, and asyncpg's own (a number, which a URL cannot carry).
        connect_args["prepared_statement_cache_size"] = 0
        connect_args["statement_cache_size"] = 0
    engine = create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=10,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_operational_error)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_S = 5.0
"""A pooled connection idle longer than this is pinged before a request gets it."""


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection only when it sat idle, instead of on every checkout.

    `pool_pre_ping` costs three round trips per request on asyncpg (BEGIN, `;`, ROLLBACK), more
    than a journey's own statements. A connection used moments ago is used as is: if the server
    went away since, its first statement fails as a disconnect, SQLAlchemy invalidates every
    connection the pool made before then, and the request answers 503 database_unavailable
    (app/errors.py); the next ones connect afresh (tests/faults/test_postgres_restart.py).
    A connection idle for longer, as after a quiet night or a restart nobody saw, is pinged
    first and replaced if dead, so no request pays for it."""
    dialect = engine.sync_engine.dialect

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get("checked_in_at", 0.0)
        if idle <= PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure: let the pool replace it
            raise DisconnectionError(f"idle connection failed its ping: {error!r}") from error

    def connected(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()  # fresh: no ping on its first use

    event.listen(engine.sync_engine, "connect", connected)
    event.listen(engine.sync_engine, "checkin", checked_in)
    event.listen(engine.sync_engine, "checkout", checkout)


def _connect_or_operational_error(
    dialect: Dialect, _record: Any, cargs: Any, cparams: dict[str, Any]
) -> Any:
    """Connect as usual, but report a server that refuses or drops the socket as the driver's
    OperationalError (as PEP 249 drivers do), not a bare OSError: SQLAlchemy wraps only driver
    errors, and the error handlers answer those with 503 database_unavailable instead of 500."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:  # refused, reset, unreachable, timed out
        raise dialect.loaded_dbapi.OperationalError(f"cannot connect: {error!r}") from error


class Session(AsyncSession):
    """An AsyncSession whose commit, and close after it, stay on the event loop when they can.

    A committed session (every request's, when it ends) has nothing to roll back and no
    connection to give back, only its objects to let go: that needs no greenlet to switch into,
    nor, leaving `async with`, a task shielding the close from cancellation. A commit whose only
    wait is the driver's COMMIT sends it from here too (app/db_commit.py).
    """

    async def commit(self) -> None:
        if await commit_sent_directly(self):
            self.sync_session.commit()  # nothing in it waits any more: no greenlet needed
        else:
            await super().commit()

    def _closed_at_once(self) -> bool:
        """Close now if that needs no I/O; False when SQLAlchemy's close must run (a rollback
        and the connection's return, in a greenlet)."""
        if self.sync_session.in_transaction():
            return False
        self.sync_session.close()
        return True

    async def close(self) -> None:
        if not self._closed_at_once():
            await super().close()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if not self._closed_at_once():
            await super().__aexit__(type_, value, traceback)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=Session, expire_on_commit=False, autoflush=False)


async def begin_write(session: AsyncSession) -> None:
    """Start the session's transaction as a write transaction (BEGIN IMMEDIATE on SQLite). A
    session holding its own connection (app/db_held.py, PostgreSQL) begins with its first
    statement."""
    if HELD not in session.info:
        await session.connection(execution_options={WRITE_TRANSACTION: True})


# --- The request's session ---------------------------------------------------------------------


async def get_db(request: Request) -> AsyncSession:
    """The request's unit of work, opened by UnitOfWorkRoute."""
    session: AsyncSession = request.state.db
    return session


DbSession = Annotated[AsyncSession, Depends(get_db)]
