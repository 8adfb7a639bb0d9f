"""Apps with settings of a test's own, HTTP clients from chosen addresses, clocks moved by hand,
and the `kap-journey` command run in-process. The fixtures (`make_app`, `wall`) reach every test
through `pytest_plugins` in tests/conftest.py."""

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import limits.aio.storage.memory
import pytest
from fastapi import FastAPI

from app.cli import main
from app.config import Settings, get_settings
from app.main import create_app
from tests.support.factories import FakeClock

PROBLEM = "application/problem+json"
MakeApp = Callable[..., FastAPI]


class HandClock:
    """Seconds that pass only when a test says so. Called, it is a monotonic clock (the
    rate-limit store's Redis retry, the audit bound's summaries); `time` stands in for
    time.time() (`limits`' in-memory counters)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def make_app(app: FastAPI, clock: FakeClock) -> AsyncIterator[MakeApp]:
    """Builds twins of the suite's app (same database) with settings overrides; disposes them."""
    made: list[FastAPI] = []
    base: Settings = app.state.settings

    def make(**overrides: Any) -> FastAPI:
        # Validated afresh, so overrides are read the way the environment would be.
        settings = Settings(**{**base.model_dump(), **overrides})
        made.append(create_app(settings, clock))
        return made[-1]

    yield make
    for application in made:
        await application.state.engine.dispose()


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> HandClock:
    """Stands in for time.time() in `limits`' memory storage for the duration of a test. It
    starts at a minute boundary, so a test knows where its windows begin."""
    clock = HandClock(1_800_000_000.0)
    monkeypatch.setattr(limits.aio.storage.memory, "time", clock)
    return clock


@asynccontextmanager
async def client_of(
    app: FastAPI, *, ip: str = "127.0.0.1", raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for `app` that connects from `ip`."""
    transport = httpx.ASGITransport(
        app=app, client=(ip, 40_000), raise_app_exceptions=raise_app_exceptions
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as client:
        yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is RFC 9457 problem+json with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(f"/problems/{code}")
    assert {"type", "title", "detail", "status", "code"} <= body.keys()
    return body


def exit_code_of_command(monkeypatch: pytest.MonkeyPatch, *argv: str) -> object:
    """Run `kap-journey *argv` in this process, with the settings read afresh from the
    environment (set it first with `monkeypatch.setenv`); the code it exits with."""
    monkeypatch.setattr(sys, "argv", ["kap-journey", *argv])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        get_settings.cache_clear()
    return exited.value.code
