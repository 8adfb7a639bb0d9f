"""The `hooks` fixture of the window scanner tests (test_events_*.py)."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from tests.windows.events_support import Hooks


@pytest.fixture
async def hooks(app: FastAPI) -> AsyncIterator[Hooks]:
    made = Hooks(app)
    yield made
    await made.tidy()
