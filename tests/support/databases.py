"""Scratch databases: a SQLite file, or a PostgreSQL database made and dropped by the suite."""

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import pytest

from app.migrate import upgrade

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ADMIN_URL = os.environ.get(
    "KAP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ALL_BACKENDS = ("sqlite", "postgresql")


def chosen_backends(setting: str | None) -> list[str]:
    """The backends KAP_TEST_BACKENDS names (comma-separated); both when it is unset."""
    chosen = [name.strip() for name in (setting or ",".join(ALL_BACKENDS)).split(",")]
    if not chosen or not set(chosen) <= set(ALL_BACKENDS):
        raise ValueError(f"KAP_TEST_BACKENDS={setting!r}: choose from {', '.join(ALL_BACKENDS)}")
    return [name for name in ALL_BACKENDS if name in chosen]


BACKENDS = chosen_backends(os.environ.get("KAP_TEST_BACKENDS"))


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


async def require_postgres(purpose: str = "PostgreSQL tests") -> None:
    """Skip when PostgreSQL is unreachable, saying so; fail instead in CI, where it is mandatory.
    Skip too when KAP_TEST_BACKENDS leaves PostgreSQL out (the fast loop)."""
    if "postgresql" not in BACKENDS:
        pytest.skip(f"KAP_TEST_BACKENDS={','.join(BACKENDS)}: {purpose} skipped")
    reason = await postgres_unreachable_reason()
    if reason is None:
        return
    message = f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL} ({reason})"
    if IN_CI:
        pytest.fail(f"{message}: it is mandatory in CI", pytrace=False)
    pytest.skip(f"{message}: {purpose} skipped")


@asynccontextmanager
async def scratch_postgres(*, migrated: bool = True) -> AsyncIterator[str]:
    """The URL of a new PostgreSQL database (migrated to head), dropped afterwards."""
    await require_postgres()
    database = await create_postgres_database()
    try:
        if migrated:
            await asyncio.to_thread(upgrade, database.url)
        yield database.url
    finally:
        await drop_postgres_database(database)
