"""The PostgreSQL the benchmarks run on: its admin connection, and scratch databases on it.

Admin connection: KAP_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres,
trust). Each run creates its own databases, named after the process, and drops them at the end.
"""

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "KAP_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@asynccontextmanager
async def admin() -> AsyncIterator[asyncpg.Connection]:
    """A connection to the admin database, closed on leaving."""
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        yield connection
    finally:
        await connection.close()


async def create_scratch(prefix: str) -> str:
    """A new empty database, `<prefix>_<pid>_<random>`; its SQLAlchemy asyncpg URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    async with admin() as connection:
        await connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def drop_scratch(url: str) -> None:
    """Drop the database at `url`, closing whatever is still connected to it."""
    async with admin() as connection:
        name = make_url(url).database
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
