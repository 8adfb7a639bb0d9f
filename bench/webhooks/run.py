"""Webhook delivery benchmark: real `kap-journey worker` processes, PostgreSQL, a loopback receiver.

    .venv/bin/python -m bench.webhooks.run [--events 2000] [--batch 10] [--rate 20] [--seconds 10]

For 1 and then 2 worker processes, each on a fresh scratch PostgreSQL database:

  steady  `--rate` events/s for `--seconds` s, one event per commit (an idle system's latency);
  burst   `--events` events committed `--batch` to a transaction as fast as one producer can,
          while the workers deliver (deliveries/s, and latency under load);
  drain   `--events` events queued while no worker runs, then the workers start: their delivery
          rate alone, with no producer competing for the CPU.

Events go through the outbox's `emit`, as the API's writes do. Latency runs from the producer's
commit returning (time.time() after COMMIT) to the receiver having read the request (time.time()
in bench/webhooks/receiver.py, which verifies every signature with standardwebhooks); both clocks
are this machine's. The admin connection comes from KAP_BENCH_POSTGRES_URL (default: postgres on
127.0.0.1:5432, trust); scratch databases are dropped at the end.
"""

import argparse
import asyncio
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.clinics.models import Clinic
from app.common.crypto import SecretBox
from app.db import begin_write
from app.events.catalogue import EventType
from app.events.service import emit, subscribe
from app.migrate import upgrade
from app.webhooks.dispatcher import LEASE
from app.webhooks.fanout import WEBHOOK_FAN_OUT
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.webhooks.secrets import new_signing_secret
from app.webhooks.worker import IDLE_POLL_S

ADMIN_URL = os.environ.get(
    "KAP_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET_KEY = "bench-secret-key"  # noqa: S105 - seals a scratch database's endpoint secret
ROOT = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-c", "from app.cli import main; main()", "worker"]
RECEIVER = [sys.executable, "-m", "bench.webhooks.receiver"]
APP_NAME = "kap-bench"  # the benchmark's own connections, told apart from the workers'


# --- Processes ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(idle, total) CPU ticks of the whole machine since boot (Linux /proc/stat), else zeros."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    ticks = [int(value) for value in first]
    return ticks[3] + ticks[4], sum(ticks[:8])


class MachineBusy:
    """The share of all CPUs busy (anything, not only this benchmark) since `start`."""

    def start(self) -> None:
        self._idle, self._total = _machine_ticks()

    def share(self) -> float:
        idle, total = _machine_ticks()
        return 1 - (idle - self._idle) / max(1, total - self._total)


class Processes:
    """The receiver and workers of one configuration; everything is stopped by `close`."""

    def __init__(self, folder: Path, database_url: str) -> None:
        self.folder = folder
        self.database_url = database_url
        self.workers: list[subprocess.Popen[bytes]] = []
        self.receiver: subprocess.Popen[bytes] | None = None
        self.received = folder / "received.tsv"
        self.port = _free_port()
        self._started = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start_receiver(self, secret: str) -> None:
        args = [*RECEIVER, str(self.port), str(self.received), f"--secret={secret}"]
        self.receiver = subprocess.Popen(args, cwd=ROOT)
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.05)

    def start_workers(self, count: int) -> None:
        env = {
            **os.environ,
            "KAP_DATABASE_URL": self.database_url,
            "KAP_SECRET_KEY": SECRET_KEY,
            "KAP_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "KAP_LOG_LEVEL": "WARNING",
        }
        for _ in range(count):
            self._started += 1
            with (self.folder / f"worker-{self._started}.log").open("wb") as log:
                self.workers.append(
                    subprocess.Popen(
                        WORKER, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
                    )
                )

    def check_alive(self) -> None:
        """Fail fast, rather than wait for deliveries that a crashed worker will never make."""
        dead = [p for p in self.workers if p.poll() is not None]
        if dead or (self.receiver is not None and self.receiver.poll() is not None):
            raise RuntimeError(f"a process exited early (see the worker logs): {dead}")

    def worker_cpu_seconds(self) -> float:
        return sum(_cpu_seconds(p.pid) for p in self.workers if p.poll() is None)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.workers = []

    def dump_logs(self) -> None:
        for log in sorted(self.folder.glob("worker-*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)

    def close(self) -> None:
        self.stop_workers()
        if self.receiver is not None:
            self.receiver.kill()
            self.receiver.wait(timeout=10)
            self.receiver = None

    def arrivals(self) -> dict[str, list[tuple[float, bool]]]:
        """Every request the receiver got: webhook-id -> [(unix time, verified)]."""
        seen: dict[str, list[tuple[float, bool]]] = {}
        if not self.received.exists():
            return seen
        for line in self.received.read_text().splitlines():
            webhook_id, at, verified = line.split("\t")
            seen.setdefault(webhook_id, []).append((float(at), verified == "1"))
        return seen


# --- The database ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scratch:
    name: str

    @property
    def url(self) -> str:
        base = make_url(ADMIN_URL).set(drivername="postgresql+asyncpg", database=self.name)
        return base.render_as_string(hide_password=False)


async def create_scratch() -> Scratch:
    scratch = Scratch(f"kap_bench_{os.getpid()}_{secrets.token_hex(4)}")
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{scratch.name}"')
    finally:
        await connection.close()
    await asyncio.to_thread(upgrade, scratch.url)
    return scratch


async def drop_scratch(scratch: Scratch) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{scratch.name}" WITH (FORCE)')
    finally:
        await connection.close()


async def make_endpoint(
    sessions: async_sessionmaker[AsyncSession], url: str
) -> tuple[uuid.UUID, str]:
    """A clinic with one enabled endpoint subscribed to client.created; its plaintext secret."""
    secret = new_signing_secret()
    async with sessions() as db:
        await begin_write(db)
        clinic = Clinic(name="Bench clinic", timezone="America/New_York")
        db.add(clinic)
        await db.flush()
        db.add(
            WebhookEndpoint(
                clinic_id=clinic.id,
                url=url,
                event_types=[EventType.client_created.value],
                secret_ciphertext=SecretBox(SECRET_KEY).seal(secret),
            )
        )
        await db.commit()
    return clinic.id, secret


# --- Producing and measuring -------------------------------------------------------------------


async def produce(
    sessions: async_sessionmaker[AsyncSession],
    clinic_id: uuid.UUID,
    count: int,
    batch: int,
    rate: float | None = None,
) -> dict[str, float]:
    """Emit `count` events, `batch` per transaction, optionally paced at `rate` events/s;
    returns event id -> the time its commit returned."""
    committed: dict[str, float] = {}
    started = time.monotonic()
    made = 0
    while made < count:
        if rate is not None:
            await asyncio.sleep(max(0.0, started + made / rate - time.monotonic()))
        size = min(batch, count - made)
        async with sessions() as db:
            await begin_write(db)
            ids = []
            for _ in range(size):
                data = {"client_id": str(uuid.uuid4()), "archived": False, "version": 1}
                event = await emit(db, clinic_id, EventType.client_created, data, datetime.now(UTC))
                assert event is not None
                ids.append(str(event.id))
            await db.commit()
        at = time.time()
        committed.update((event_id, at) for event_id in ids)
        made += size
    return committed


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


WAIT_STATES = {
    "waiting on a row lock": "wait_event_type = 'Lock'",
    "idle in transaction": "state = 'idle in transaction'",
    "running, or other waits": "state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock'",
}


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


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Result:
    events: int
    seconds: float  # first commit (or first arrival, for drain) to last arrival
    producer_rate: float | None
    latencies: list[float] = field(default_factory=list)
    duplicates: int = 0
    unverified: int = 0
    worker_cpu_s: float = 0.0
    machine_busy: float = 0.0
    extra_attempts: int = 0
    waits: dict[str, float] = field(default_factory=dict)  # worker backends, average per state

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def measure(
    committed: dict[str, float],
    arrivals: dict[str, list[tuple[float, bool]]],
    producer_seconds: float | None,
    worker_cpu_s: float,
    machine_busy: float,
    *,
    from_first_arrival: bool = False,
) -> Result:
    mine = {event_id: arrivals.get(event_id, []) for event_id in committed}
    missing = [event_id for event_id, got in mine.items() if not got]
    if missing:
        raise RuntimeError(f"{len(missing)} events never reached the receiver")
    first_arrival = {event_id: min(at for at, _ in got) for event_id, got in mine.items()}
    start = min(first_arrival.values()) if from_first_arrival else min(committed.values())
    return Result(
        events=len(committed),
        seconds=max(first_arrival.values()) - start,
        producer_rate=len(committed) / producer_seconds if producer_seconds else None,
        latencies=[first_arrival[e] - committed[e] for e in committed],
        duplicates=sum(len(got) - 1 for got in mine.values()),
        unverified=sum(1 for got in mine.values() for _, ok in got if not ok),
        worker_cpu_s=worker_cpu_s,
        machine_busy=machine_busy,
    )


@dataclass
class Configuration:
    workers: int
    steady: Result
    burst: Result
    drain: Result


class Bench:
    """One configuration's database, processes and phases."""

    def __init__(self, options: argparse.Namespace, workers: int, folder: Path) -> None:
        self.options = options
        self.workers = workers
        self.folder = folder
        self.total = 0  # deliveries expected so far

    async def run(self) -> Configuration:
        scratch = await create_scratch()
        self.engine = create_async_engine(
            scratch.url, connect_args={"server_settings": {"application_name": APP_NAME}}
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.processes = Processes(self.folder, scratch.url)
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
            await drop_scratch(scratch)

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


# --- Reporting ---------------------------------------------------------------------------------


def _hardware() -> tuple[str, str]:
    """(CPU model, total memory) from /proc, or question marks elsewhere."""
    memory = cpu = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return cpu, memory


async def describe_machine() -> list[str]:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        postgres = await connection.fetchval("SELECT version()")
        sync = await connection.fetchval("SHOW synchronous_commit")
    finally:
        await connection.close()
    cpu, memory = _hardware()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"nproc: {len(os.sched_getaffinity(0))} ({cpu}); memory: {memory}",
        f"PostgreSQL: {postgres} (synchronous_commit={sync}), on this machine",
        f"Python: {platform.python_version()} on {platform.platform()}",
        f"worker: IDLE_POLL_S={IDLE_POLL_S} s, claim batch 20, lease {LEASE.total_seconds():.0f} s",
        f"load average before the run: {load}",
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def table(configurations: list[Configuration], options: argparse.Namespace) -> list[str]:
    """A Markdown table, one column per worker count."""
    rows: list[tuple[str, list[str]]] = []

    def add(label: str, values: list[str]) -> None:
        rows.append((label, values))

    def latencies(prefix: str, results: list[Result]) -> None:
        for p in (50, 95, 99):
            add(f"{prefix}: latency p{p}", [_ms(percentile(r.latencies, p)) for r in results])
        add(f"{prefix}: latency max", [_ms(max(r.latencies)) for r in results])

    def costs(prefix: str, results: list[Result]) -> None:
        add(
            f"{prefix}: worker CPU per 1000",
            [f"{r.worker_cpu_s / r.events * 1000:.1f} s" for r in results],
        )
        add(f"{prefix}: all CPUs busy", [f"{r.machine_busy:.0%}" for r in results])

    steady = [c.steady for c in configurations]
    burst = [c.burst for c in configurations]
    drain = [c.drain for c in configurations]
    name = f"steady {options.rate:g}/s"
    add(f"{name}: events", [str(r.events) for r in steady])
    latencies(name, steady)
    costs(name, steady)
    add("burst: events", [str(r.events) for r in burst])
    add("burst: producer commits/s", [f"{r.producer_rate or 0:.0f}" for r in burst])
    add("burst: deliveries/s", [f"{r.rate:.0f}" for r in burst])
    latencies("burst", burst)
    costs("burst", burst)
    add("drain: events", [str(r.events) for r in drain])
    add("drain: deliveries/s", [f"{r.rate:.0f}" for r in drain])
    costs("drain", drain)
    for state in WAIT_STATES:
        add(f"drain: backends {state} (avg)", [f"{r.waits.get(state, 0):.1f}" for r in drain])
    phases = [(c.steady, c.burst, c.drain) for c in configurations]
    add("duplicate arrivals", [str(sum(r.duplicates for r in p)) for p in phases])
    add("attempts beyond the first", [str(sum(r.extra_attempts for r in p)) for p in phases])
    add("unverified signatures", [str(sum(r.unverified for r in p)) for p in phases])

    header = [f"{c.workers} worker{'s' if c.workers > 1 else ''}" for c in configurations]
    width = max(len(label) for label, _ in rows)
    cell = max(9, *(len(v) for _, values in rows for v in values))
    lines = [
        f"| {'':<{width}} | " + " | ".join(f"{h:>{cell}}" for h in header) + " |",
        f"|{'-' * (width + 2)}|" + "|".join(f"{'-' * (cell + 1)}:" for _ in header) + "|",
    ]
    lines += [
        f"| {label:<{width}} | " + " | ".join(f"{v:>{cell}}" for v in values) + " |"
        for label, values in rows
    ]
    return lines


async def main_async(options: argparse.Namespace, argv: Sequence[str]) -> None:
    print(f"command: .venv/bin/python -m bench.webhooks.run {' '.join(argv)}".rstrip())
    print("\n".join(await describe_machine()), flush=True)
    configurations = []
    for workers in options.workers:
        with tempfile.TemporaryDirectory(prefix="kap-bench-") as folder:
            configurations.append(await Bench(options, workers, Path(folder)).run())
    print()
    print("\n".join(table(configurations, options)))


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhooks.run", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=2000, help="events in the burst and drain")
    parser.add_argument("--batch", type=int, default=10, help="events per commit in the burst")
    parser.add_argument("--rate", type=float, default=20.0, help="steady events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady duration")
    parser.add_argument(
        "--workers",
        type=lambda value: [int(n) for n in value.split(",")],
        default=[1, 2],
        help="worker process counts to compare, comma-separated (default 1,2)",
    )
    subscribe(WEBHOOK_FAN_OUT)  # the bench emits as the API does, so it wires as the API does
    asyncio.run(main_async(parser.parse_args(args), args))


if __name__ == "__main__":
    main()
