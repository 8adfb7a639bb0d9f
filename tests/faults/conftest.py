"""Fixtures of the fault tests: a scratch PostgreSQL database and the processes on it.

A test module overrides `database_url` (a private cluster) or `fleet_settings` (extra KAP_
settings for every process) where it needs to."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.faults.support import Fleet, environment_for
from tests.support import databases


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with databases.scratch_postgres() as url:
        yield url


@pytest.fixture
def fleet_settings() -> dict[str, str]:
    return {}


@pytest.fixture
def fleet(tmp_path: Path, database_url: str, fleet_settings: dict[str, str]) -> Iterator[Fleet]:
    made = Fleet(tmp_path, environment_for(database_url, **fleet_settings))
    yield made
    made.stop_all()
