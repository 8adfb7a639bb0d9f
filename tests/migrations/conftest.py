"""What every migration test runs on: an empty database of each backend, not migrated."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import databases


@pytest.fixture(params=["sqlite", "postgresql"])
async def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    async with databases.scratch_postgres(migrated=False) as url:
        yield url
