"""What the benchmark reads from the scratch database while the workers run: deliveries done,
attempts beyond the first, workers connected, and what the workers' backends are doing.

The benchmark's own connections carry APP_NAME, so they are told apart from the workers'.
"""

import asyncio
import time

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.webhooks.models import DeliveryStatus, WebhookDelivery
from bench.machine import MachineBusy
from bench.webhooks.processes import Processes

APP_NAME = "kap-bench"  # the benchmark's own connections, told apart from the workers'
WAIT_STATES = {
    "waiting on a row lock": "wait_event_type = 'Lock'",
    "idle in transaction": "state = 'idle in transaction'",
    "running, or other waits": "state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock'",
}


async def extra_attempts(engine: AsyncEngine) -> int:
    """Attempts beyond one per delivery so far (retries after a failure, or a lease lost)."""
    async with engine.connect() as connection:
        stmt = select(func.coalesce(func.sum(WebhookDelivery.attempt_count - 1), 0)).where(
            WebhookDelivery.attempt_count > 1
        )
        return int((await connection.execute(stmt)).scalar_one())


async def delivered(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        stmt = select(func.count()).where(WebhookDelivery.status == DeliveryStatus.succeeded.value)
        return int((await connection.execute(stmt)).scalar_one())


async def wait_for_deliveries(
    engine: AsyncEngine,
    processes: Processes,
    total: int,
    limit_s: float,
    on_first: MachineBusy | None = None,
) -> tuple[float, float]:
    """Until `total` deliveries have succeeded; returns the workers' CPU seconds when the first
    new one appeared (when `on_first` is given, it restarts then) and at the end."""
    deadline = time.monotonic() + limit_s
    before = await delivered(engine)
    cpu_first = cpu_last = processes.worker_cpu_seconds()
    seen_first = False
    while (done := await delivered(engine)) < total:
        processes.check_alive()
        cpu_last = processes.worker_cpu_seconds()  # sampled while the workers are alive
        if not seen_first and done > before:
            seen_first, cpu_first = True, cpu_last
            if on_first is not None:
                on_first.start()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {total} deliveries succeeded in {limit_s:.0f} s")
        await asyncio.sleep(0.1)
    return cpu_first, max(cpu_last, processes.worker_cpu_seconds())


async def wait_for_workers(
    engine: AsyncEngine, processes: Processes, count: int, limit_s: float = 30
) -> None:
    """Until `count` worker connections are open (each keeps its pooled connection)."""
    deadline = time.monotonic() + limit_s
    query = text(
        "SELECT count(DISTINCT client_port) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name <> :mine"
    )
    while True:
        async with engine.connect() as connection:
            found = int((await connection.execute(query, {"mine": APP_NAME})).scalar_one())
        if found >= count:
            return
        processes.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{found} of {count} workers connected in {limit_s:.0f} s")
        await asyncio.sleep(0.1)


async def sample_waits(
    engine: AsyncEngine, stop: asyncio.Event, every_s: float = 0.02
) -> dict[str, float]:
    """Until `stop` is set, what the workers' PostgreSQL backends are doing: for each state,
    how many backends are in it on average (pg_stat_activity sampled every `every_s`)."""
    columns = ", ".join(f"count(*) FILTER (WHERE {where})" for where in WAIT_STATES.values())
    query = text(
        f"SELECT {columns} FROM pg_stat_activity "  # noqa: S608 - constant SQL
        "WHERE datname = current_database() AND application_name <> :mine"
    )
    totals = [0] * len(WAIT_STATES)
    samples = 0
    async with engine.connect() as connection:
        while not stop.is_set():
            row = (await connection.execute(query, {"mine": APP_NAME})).one()
            await connection.commit()  # a fresh pg_stat_activity snapshot each time
            totals = [t + int(v) for t, v in zip(totals, row, strict=True)]
            samples += 1
            await asyncio.sleep(every_s)
    return {name: t / max(1, samples) for name, t in zip(WAIT_STATES, totals, strict=True)}
