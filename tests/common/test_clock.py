"""One request sees one instant: `current_time` reads the app's clock once per request, whether
FastAPI asks for it (`Now`) or authentication reads it directly (app/auth/dependencies.py)."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from starlette.requests import Request

from app.clock import current_time

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class TickingClock:
    """A clock that moves a second every time it is read."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> datetime:
        self.reads += 1
        return T0 + timedelta(seconds=self.reads)


def _request(app: Any) -> Request:
    return Request({"type": "http", "app": app, "headers": [], "method": "GET", "path": "/"})


async def test_a_request_reads_the_clock_once_however_often_it_asks() -> None:
    clock = TickingClock()
    app = SimpleNamespace(state=SimpleNamespace(clock=clock))
    request = _request(app)
    first = await current_time(request)
    assert await current_time(request) == first
    assert clock.reads == 1


async def test_each_request_reads_the_clock_afresh() -> None:
    clock = TickingClock()
    app = SimpleNamespace(state=SimpleNamespace(clock=clock))
    first = await current_time(_request(app))
    second = await current_time(_request(app))
    assert second == first + timedelta(seconds=1)
