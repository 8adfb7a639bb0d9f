"""The COMMIT that ends a request, sent from the event loop on PostgreSQL (issue 17).

SQLAlchemy's commit runs in a greenlet entered for it, because the COMMIT inside it waits for
the server; every request commits. When the session's statements went to the driver directly
(app/db_direct.py) and nothing else in its commit would wait or must run first,
`commit_sent_directly` sends the COMMIT itself and app/db.py's `Session.commit` then runs
SQLAlchemy's commit, which has nothing left that waits (docs/decisions.md says what is
weighed, tests/common/test_direct_commit.py what is left to SQLAlchemy).
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.db_direct import DirectConnection, direct_connection, pool_keeps


async def commit_sent_directly(db: AsyncSession) -> bool:
    """Send the COMMIT of the session's transaction straight to the driver, when it is the only
    thing the session's commit would wait for; True then, and the session's own commit, run
    next, finds nothing left that waits. False when SQLAlchemy's commit must run as usual:
    mostly having done nothing. When the COMMIT was sent and failed, SQLAlchemy's commit meets
    the same failure and handles it its own way (`_FailedCommit`); when it succeeded but the
    pool filled meanwhile, SQLAlchemy's commit finds no driver transaction to end and closes
    the connection, which waits for the server, in its greenlet.

    SQLAlchemy's commit runs in a greenlet entered for it, because the COMMIT inside it waits
    for the server, and every request commits (docs/performance.md, twelfth pass). Here the
    asyncpg transaction commits as the adapter's own commit would; SQLAlchemy's commit then
    finds nothing to flush, no driver transaction to end and room in the pool for the
    connection. A session with changes to flush, a savepoint, a second connection or one it
    must not commit, commit listeners, or a connection the pool would close on its return (an
    overflow one, the pool being full), is left to SQLAlchemy."""
    direct = direct_connection(db)
    if not isinstance(direct, DirectConnection) or not _commits_without_waiting(db, direct):
        return False
    adapter = direct.adapter
    transaction = adapter._transaction  # None if no statement began one
    if transaction is None:
        return True
    try:
        await transaction.commit()
    except BaseException as error:  # refused by the server, or cancelled
        adapter._transaction = _FailedCommit(error)
        return False
    adapter._transaction = None  # ended, as the adapter's commit leaves it
    # Other tasks ran meanwhile: their connections may have filled the pool.
    return pool_keeps(direct.sync.connection)


class _FailedCommit:
    """In the adapter's place for the driver's transaction, once its COMMIT has failed: the
    adapter's commit, inside SQLAlchemy's, raises the same error, so the session ends as
    SQLAlchemy's own failed commit leaves it (the error translated, the transaction inactive
    until rolled back, a cancelled COMMIT's connection invalidated). The server has ended the
    transaction either way, so a rollback has nothing to send."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def commit(self) -> None:
        raise self.error

    async def rollback(self) -> None:
        pass


# Listeners that run during a commit, before or after the COMMIT: with any of them, the commit
# is SQLAlchemy's (they may do I/O, and a before_commit one must run before the COMMIT).
_SESSION_COMMIT_EVENTS = ("before_commit", "after_commit", "after_transaction_end")


def _commits_without_waiting(db: AsyncSession, direct: DirectConnection) -> bool:
    """Whether SQLAlchemy's commit of `db`, once the driver's transaction is committed, would
    do no I/O and nothing else: nothing to flush, no savepoint, one connection that is the
    session's to commit, no commit listeners, and a pool that keeps the connection."""
    session = db.sync_session
    if not session._is_clean() or session.get_nested_transaction() is not None:
        return False
    # Keyed by engine and by connection alike: (connection, transaction, should_commit, close).
    # One connection means every entry holds it; a session joined to a transaction begun
    # outside it (bound to a connection already in one) must not commit that transaction.
    connections = direct.transaction._connections.values()
    if any(entry[0] is not direct.sync or not entry[2] for entry in connections):
        return False
    dispatch = session.dispatch
    if (
        any(getattr(dispatch, name) for name in _SESSION_COMMIT_EVENTS)
        or direct.sync.dispatch.commit
    ):
        return False
    return pool_keeps(direct.sync.connection)
