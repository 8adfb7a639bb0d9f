"""Real worker processes against a scratch PostgreSQL database of a test's own: the fixtures the
webhook and inbound process tests share. Import the fixtures by name into a test module to use them.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.support import databases
from tests.support.factories import Clinic, FakeClock, bootstrap

WORKER = [sys.executable, "-c", "from app.cli import main; main()", "worker"]
SECRET_KEY = "process-tests-secret-key"
LEASE_S = 2
WAIT_S = 30.0
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]], what: str, workers: "Workers | None" = None
) -> T:
    """Poll `check` until it returns something truthy; fail after WAIT_S (with worker logs)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = f"\n{workers.logs()}" if workers is not None else ""
            raise AssertionError(f"gave up after {WAIT_S:.0f} s waiting for {what}{logs}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A migrated PostgreSQL database of this test's own (workers serve the whole outbox)."""
    async with databases.scratch_postgres() as url:
        yield url


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr(SECRET_KEY),
        webhook_allowed_hosts=["127.0.0.1"],
        rate_limit_per_minute=0,  # test c creates events as fast as it can
    )
    application = create_app(settings)  # the system clock: receivers check timestamps
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def clinic(app: FastAPI) -> AsyncIterator[Clinic]:
    clock = FakeClock()
    clock.set(datetime.now(UTC))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
        yield await bootstrap(app, http, clock)


class Workers:
    """`kap-journey worker` processes; their stderr goes to files kept for failure messages."""

    def __init__(self, folder: Path, database_url: str) -> None:
        self.folder = folder
        self.database_url = database_url
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, database_url: str | None = None) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "KAP_DATABASE_URL": database_url or self.database_url,
            "KAP_SECRET_KEY": SECRET_KEY,
            "KAP_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "KAP_WEBHOOK_LEASE_SECONDS": str(LEASE_S),
        }
        log = self.folder / f"worker-{len(self.processes)}.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                WORKER, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
            )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-2000:]}"
            for path in sorted(self.folder.glob("worker-*.log"))
        )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def workers(tmp_path: Path, database_url: str) -> Iterator[Workers]:
    made = Workers(tmp_path, database_url)
    yield made
    made.stop_all()
