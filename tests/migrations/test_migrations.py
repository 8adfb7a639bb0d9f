"""Alembic builds the whole schema, and downgrading to base removes it again."""

import asyncio
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.audit.months import PARTITION_NAME
from app.db import Base
from app.migrate import downgrade, upgrade
from app.models import load_all_models
from tests.support import databases


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    # The audit trail's monthly partitions (PostgreSQL) are tables of their own; their parent
    # is what the models name.
    return {name for name in names if not PARTITION_NAME.fullmatch(name)}


@pytest.mark.api  # on each backend
async def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    load_all_models()
    expected = set(Base.metadata.tables)
    await asyncio.to_thread(upgrade, scratch_url)
    assert await _tables(scratch_url) == expected | {"alembic_version"}
    await asyncio.to_thread(downgrade, scratch_url)
    assert await _tables(scratch_url) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, scratch_url)
    assert await _tables(scratch_url) == expected | {"alembic_version"}


@pytest.mark.process  # two `kap-journey migrate`
async def test_replicas_migrating_at_once_both_succeed() -> None:
    """Two `kap-journey migrate` started together on an empty PostgreSQL database: the second
    waits for the first's advisory lock, then finds the schema at head."""
    async with databases.scratch_postgres(migrated=False) as url:
        command = [str(Path(sys.executable).parent / "kap-journey"), "migrate"]
        env = {**os.environ, "KAP_DATABASE_URL": url, "KAP_SECRET_KEY": "test-secret-key"}
        processes = [
            await asyncio.create_subprocess_exec(*command, env=env, stdout=PIPE, stderr=PIPE)
            for _ in range(2)
        ]
        results = [await process.communicate() for process in processes]
        for process, (_, stderr) in zip(processes, results, strict=True):
            assert process.returncode == 0, stderr.decode()[-2000:]
        load_all_models()
        assert await _tables(url) == set(Base.metadata.tables) | {"alembic_version"}
