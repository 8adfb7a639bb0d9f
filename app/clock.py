"""The clock the service reads "now" from, injectable so tests never sleep."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, aware and in UTC."""
    return datetime.now(UTC)


async def current_time(request: Request) -> datetime:
    """Read the app's clock once per request so one request sees one instant. (A coroutine,
    as every dependency on the request path: FastAPI runs a plain function in a thread.)"""
    clock: Clock = request.app.state.clock
    return clock()


Now = Annotated[datetime, Depends(current_time)]
