"""Real `kap-journey serve` / `kap-journey worker` processes on PostgreSQL, for fault tests.

Every process of a test belongs to its Fleet, logs to its own file (shown when a wait gives up)
and is stopped in teardown, killed if it will not stop.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from pydantic import SecretStr

from app.clinics.bootstrap import bootstrap_clinic
from app.config import Settings
from app.db import begin_write, create_engine, create_sessionmaker
from tests.support.servers import free_port, wait_until_healthy

CLI = [sys.executable, "-c", "from app.cli import main; main()"]
ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "fault-tests-secret-key"
T = TypeVar("T")


def environment_for(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of every process of a test: one database, loopback receivers only."""
    extra = {f"KAP_{name.upper()}": value for name, value in settings.items()}
    return {
        **os.environ,
        "KAP_DATABASE_URL": database_url,
        "KAP_SECRET_KEY": SECRET_KEY,
        "KAP_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "KAP_RATE_LIMIT_PER_MINUTE": "0",  # the load here is the point, not a client to limit
        "KAP_LOG_LEVEL": "WARNING",
        **extra,
    }


def driver_url(database_url: str) -> str:
    """The SQLAlchemy URL as asyncpg takes it, for checks that read the tables directly."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass(frozen=True)
class Api:
    url: str
    process: "subprocess.Popen[bytes]"

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, in-flight requests are cut off."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class Fleet:
    """The `kap-journey` processes of one test, all on one database."""

    def __init__(self, folder: Path, environment: dict[str, str]) -> None:
        self.folder = folder
        self.environment = environment
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, *args: str) -> "subprocess.Popen[bytes]":
        log = self.folder / f"{len(self.processes):02d}-{name}.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [*CLI, *args],
                env=self.environment,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.processes.append(process)
        return process

    def serve(self, *options: str, replicas: int = 1) -> list[Api]:
        """API processes (`--no-worker` among `options` for API-only replicas), all healthy."""
        apis = []
        for _ in range(replicas):  # started together, so they boot in parallel
            port = free_port()
            process = self._start(f"serve-{port}", "serve", "--port", str(port), *options)
            apis.append(Api(f"http://127.0.0.1:{port}", process))
        for api in apis:
            try:
                wait_until_healthy(api.url, api.process, timeout_s=60)
            except AssertionError as error:
                raise AssertionError(f"{error}\n{self.logs()}") from None
        return apis

    def worker(self) -> "subprocess.Popen[bytes]":
        return self._start("worker", "worker")

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )

    def stop_all(self) -> None:
        running = [process for process in self.processes if process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@dataclass(frozen=True)
class Admin:
    clinic_id: uuid.UUID
    headers: dict[str, str]


async def bootstrap_admin(database_url: str) -> Admin:
    """A clinic and its admin's key, written as `kap-journey bootstrap` writes them (in-process:
    a CLI process would only add its start-up time)."""
    engine = create_engine(Settings(database_url=database_url, secret_key=SecretStr(SECRET_KEY)))
    try:
        async with create_sessionmaker(engine)() as db:
            await begin_write(db)
            made = await bootstrap_clinic(
                db,
                name="Fault clinic",
                timezone="UTC",
                admin_email="admin@faults.example",
                admin_name="Admin",
                now=datetime.now(UTC),
            )
            await db.commit()
    finally:
        await engine.dispose()
    return Admin(made.clinic.id, {"Authorization": f"Bearer {made.api_key}"})


async def eventually(
    check: Callable[[], Awaitable[T | None]], what: str, *, timeout_s: float, fleet: Fleet
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout_s` with the logs."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"gave up after {timeout_s:.0f} s waiting for {what}\n{fleet.logs()}"
            )
        await asyncio.sleep(0.1)


async def fetch(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Rows read straight from the tables, past the API."""
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def subscribe(api: Api, admin: Admin, url: str, *event_types: str) -> dict[str, Any]:
    """A webhook endpoint made through the API; its secret is in the answer."""
    body = {"url": url, "event_types": list(event_types)}
    async with httpx.AsyncClient(base_url=api.url, timeout=15.0) as http:
        made = await http.post("/api/v1/webhook-endpoints", json=body, headers=admin.headers)
    assert made.status_code == 201, made.text
    endpoint: dict[str, Any] = made.json()
    return endpoint
