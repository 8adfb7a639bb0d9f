"""Alembic builds the whole schema, and downgrading to base removes it again."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import Base
from app.migrate import downgrade, upgrade
from app.models import load_all_models
from tests import databases


@pytest.fixture(params=["sqlite", "postgresql"])
async def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    async with databases.scratch_postgres(migrated=False) as url:
        yield url


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    load_all_models()
    expected = set(Base.metadata.tables)
    await asyncio.to_thread(upgrade, scratch_url)
    assert await _tables(scratch_url) == expected | {"alembic_version"}
    await asyncio.to_thread(downgrade, scratch_url)
    assert await _tables(scratch_url) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, scratch_url)
    assert await _tables(scratch_url) == expected | {"alembic_version"}
