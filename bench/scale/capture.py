"""The SQL our API sends for a request, captured from the real code path (an engine event).

The app runs in-process on the given database (httpx over ASGI, no server), authenticated with a
real API key, so what is captured is exactly what `kap-journey serve` sends for the same request.
Used to keep the ceiling's literal SQL honest (bench/scale/run.py) and to EXPLAIN the app's own
statements (tests/scale/test_query_plans.py).

    .venv/bin/python -m bench.scale.capture postgresql://... KEY /api/v1/worklists/integration
"""

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from app.config import Settings
from app.main import create_app
from bench.scale.generate import orm_url

SECRET_KEY = "scale-benchmark-secret-key"  # noqa: S105 - seals nothing of value in a scratch DB


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Sequence[Any]  # one row's parameters; for executemany, the first row's
    many: int  # rows sent by executemany, 0 for a single execute

    @property
    def text(self) -> str:
        """The SQL with runs of whitespace collapsed: how statements are compared."""
        return normalized(self.sql)


def normalized(sql: str) -> str:
    return " ".join(sql.split())


def settings_for(url: str) -> Settings:
    """The settings the benchmark serves with: no rate limit (one key sends thousands of
    requests a second), warnings only in the log."""
    return Settings(
        database_url=orm_url(url),
        secret_key=SECRET_KEY,
        rate_limit_per_minute=0,
        log_level="WARNING",
    )


class Recorder:
    """An in-process app whose statements are recorded between `start` and `stop`."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.statements: list[Statement] = []
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", self._record)

    def _record(
        self, _conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        first = parameters[0] if many and parameters else parameters
        self.statements.append(Statement(sql, tuple(first or ()), len(parameters) if many else 0))

    async def get(self, path: str, key: str) -> tuple[httpx.Response, list[Statement]]:
        """GET `path` as the key's owner; the response and the statements it took."""
        self.statements = []
        response = await self.client.get(path, headers={"Authorization": f"Bearer {key}"})
        return response, self.statements


@asynccontextmanager
async def recording_app(url: str) -> AsyncIterator[Recorder]:
    app = create_app(settings_for(url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://scale.test"
        ) as client,
    ):
        yield Recorder(app, client)


async def _print(url: str, key: str, paths: Sequence[str]) -> None:
    async with recording_app(url) as recorder:
        for path in paths:
            response, statements = await recorder.get(path, key)
            print(f"== GET {path} -> {response.status_code}")
            for statement in statements:
                many = f" (executemany, {statement.many} rows)" if statement.many else ""
                print(f"-- {len(statement.parameters)} parameters{many}: {statement.parameters}")
                print(statement.sql)


if __name__ == "__main__":
    asyncio.run(_print(sys.argv[1], sys.argv[2], sys.argv[3:]))
