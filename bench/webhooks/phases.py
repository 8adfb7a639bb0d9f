"""One configuration of the webhook benchmark (a worker count) on its own scratch database.

After a warm-up (the workers connected, twenty events delivered, a second of idle), three phases:

  steady  `--rate` events/s for `--seconds` s, one event per commit;
  burst   `--events` events, `--batch` per commit, as fast as one producer can;
  drain   `--events` events queued while no worker runs, then the workers start.

Each phase waits until every delivery has succeeded, then measures it (results.py).
"""

import argparse
import asyncio
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.machine import MachineBusy
from bench.scratch_database import drop_scratch
from bench.webhooks.probes import (
    APP_NAME,
    extra_attempts,
    sample_waits,
    wait_for_deliveries,
    wait_for_workers,
)
from bench.webhooks.processes import Processes
from bench.webhooks.producer import make_endpoint, migrated_scratch, produce
from bench.webhooks.results import Configuration, Result, measure


class Bench:
    """One configuration's database, processes and phases."""

    def __init__(self, options: argparse.Namespace, workers: int, folder: Path) -> None:
        self.options = options
        self.workers = workers
        self.folder = folder
        self.total = 0  # deliveries expected so far

    async def run(self) -> Configuration:
        url = await migrated_scratch()
        self.engine = create_async_engine(
            url, connect_args={"server_settings": {"application_name": APP_NAME}}
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.processes = Processes(self.folder, url)
        try:
            self.clinic_id, secret = await make_endpoint(self.sessions, self.processes.url)
            self.processes.start_receiver(secret)
            self.processes.start_workers(self.workers)
            await wait_for_workers(self.engine, self.processes, self.workers)
            warm = await produce(self.sessions, self.clinic_id, 20, 1, rate=10)  # all started
            self.total += len(warm)
            await wait_for_deliveries(self.engine, self.processes, self.total, 60)
            await asyncio.sleep(1)  # idle again
            return Configuration(
                self.workers, await self.steady(), await self.burst(), await self.drain()
            )
        except BaseException:
            self.processes.dump_logs()
            raise
        finally:
            self.processes.close()
            await self.engine.dispose()
            await drop_scratch(url)

    def _say(self, what: str) -> None:
        print(f"  {self.workers} worker{'s' if self.workers > 1 else ''}: {what}", flush=True)

    async def steady(self) -> Result:
        rate, seconds = self.options.rate, self.options.seconds
        self._say(f"steady {rate:g} events/s for {seconds:g} s, one per commit")
        busy = MachineBusy()
        busy.start()
        cpu = self.processes.worker_cpu_seconds()
        count = round(rate * seconds)
        committed = await produce(self.sessions, self.clinic_id, count, 1, rate=rate)
        return await self._finish(committed, None, cpu, busy, limit_s=60)

    async def burst(self) -> Result:
        events, batch = self.options.events, self.options.batch
        self._say(f"burst of {events} events, {batch} per commit")
        busy = MachineBusy()
        busy.start()
        cpu = self.processes.worker_cpu_seconds()
        began = time.monotonic()
        committed = await produce(self.sessions, self.clinic_id, events, batch)
        producer_s = time.monotonic() - began
        return await self._finish(committed, producer_s, cpu, busy, limit_s=120 + events / 10)

    async def drain(self) -> Result:
        events = self.options.events
        self._say(f"drain a backlog of {events} events")
        self.processes.stop_workers()
        committed = await produce(self.sessions, self.clinic_id, events, 100)
        self.processes.start_workers(self.workers)
        busy = MachineBusy()  # (re)started at the first delivery: start-up is not counted
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_waits(self.engine, stop))
        try:
            result = await self._finish(committed, None, None, busy, limit_s=120 + events / 10)
        finally:
            stop.set()
            waits = await sampler
        result.waits = waits
        return result

    async def _finish(
        self,
        committed: dict[str, float],
        producer_s: float | None,
        cpu_before: float | None,
        busy: MachineBusy,
        limit_s: float,
    ) -> Result:
        self.total += len(committed)
        extra = await extra_attempts(self.engine)
        cpu_first, cpu_last = await wait_for_deliveries(
            self.engine,
            self.processes,
            self.total,
            limit_s,
            on_first=busy if cpu_before is None else None,
        )
        result = measure(
            committed,
            self.processes.arrivals(),
            producer_s,
            cpu_last - (cpu_first if cpu_before is None else cpu_before),
            busy.share(),
            from_first_arrival=cpu_before is None,
        )
        result.extra_attempts = await extra_attempts(self.engine) - extra
        return result
