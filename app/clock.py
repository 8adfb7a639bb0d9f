"""The clock the service reads "now" from, injectable so tests never sleep."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, aware and in UTC."""
    return datetime.now(UTC)


_NOW = "kap.now"
"""Where a request keeps the instant it first read (in its ASGI scope)."""


async def current_time(request: Request) -> datetime:
    """Read the app's clock once per request so one request sees one instant, whoever asks (a
    dependency, or authentication reading it directly). (A coroutine, as every dependency on
    the request path: FastAPI runs a plain function in a thread.)"""
    now: datetime | None = request.scope.get(_NOW)
    if now is None:
        clock: Clock = request.app.state.clock
        now = request.scope[_NOW] = clock()
    return now


Now = Annotated[datetime, Depends(current_time)]
