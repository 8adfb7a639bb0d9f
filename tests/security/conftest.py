"""Apps with security settings of a test's choosing, and a monotonic clock moved by hand."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.security import install_security, security_state
from tests.factories import FakeClock

PROBLEM = "application/problem+json"
MakeApp = Callable[..., FastAPI]


class FakeMonotonic:
    """The rate limiter's clock in tests: seconds, moved by hand, never slept on."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def secured(app: FastAPI) -> FastAPI:
    """The app with security installed, whether or not create_app already does it."""
    if security_state(app) is None:
        install_security(app, app.state.settings)
    return app


@pytest.fixture
async def make_app(app: FastAPI, clock: FakeClock) -> AsyncIterator[MakeApp]:
    """Builds secured twins of the suite's app with settings overrides; disposes them."""
    made: list[FastAPI] = []
    base: Settings = app.state.settings

    def make(**overrides: Any) -> FastAPI:
        # Validated afresh, so overrides are read the way the environment would be.
        settings = Settings(**{**base.model_dump(), **overrides})
        application = secured(create_app(settings, clock))
        made.append(application)
        return application

    yield make
    for application in made:
        await application.state.engine.dispose()


@pytest.fixture
def secure_app(app: FastAPI, make_app: MakeApp) -> FastAPI:
    """The suite's app when create_app installs security itself; else a secured twin of it."""
    return app if security_state(app) is not None else make_app()


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
