"""Scratch databases: a SQLite file, or a PostgreSQL database made and dropped by the suite."""

import os
import secrets
from dataclasses import dataclass

import asyncpg

POSTGRES_ADMIN_URL = os.environ.get(
    "KAP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class ScratchPostgres:
    name: str

    @property
    def url(self) -> str:
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        return f"{base}/{self.name}"


async def postgres_unreachable_reason() -> str | None:
    """None when the server answers, else why not."""
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await connection.close()
    return None


async def create_postgres_database() -> ScratchPostgres:
    name = f"kap_test_{os.getpid()}_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return ScratchPostgres(name)


async def drop_postgres_database(database: ScratchPostgres) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
    finally:
        await connection.close()
