"""Read throughput and latency of our API against a ceiling, at 10k and 1M sessions.

    .venv/bin/python -m bench.scale.run [--sizes 10000,1000000] [--seconds 10] [--rounds 3]
                                        [--connections 8] [--quick]

For each size: a scratch PostgreSQL database (migrated, filled by bench.scale.generate, dropped
at the end); our API (`kap-journey serve --no-worker`, one uvicorn process) and the ceiling
(bench/scale/ceiling.py under uvicorn, one process) on loopback; a check that the ceiling sends
exactly the SQL our API sends (captured from the app) and gets the same rows; a warm-up. Then,
with every size's servers up, `wrk` (one thread, `--connections` connections) drives each
scenario against each size's ours and ceiling in turn, `--rounds` rounds of `--seconds` s, the
order alternating between rounds, with the same request sequence for both sides:

  journey   GET /api/v1/clients/{id}/journey for clients drawn at random over all clinics
  worklist  GET /api/v1/worklists/integration, half of them for one random clinician

Needs `wrk` (Debian: apt-get install wrk). Percentiles come from wrk's latency quantiles
(1000 a run), merged over the rounds. On 2 cores the load generator competes with the servers
and PostgreSQL, so the servers are pinned to CPU 0 and wrk to CPU 1 (PostgreSQL runs where the
kernel puts it), the same for both; the CPU each side used per request is reported beside the
rates, and so is the share of the machine that other processes took (other load).
Admin connection: KAP_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.migrate import upgrade
from bench.scale import ceiling
from bench.scale.capture import SECRET_KEY, Statement, normalized, recording_app
from bench.scale.generate import Generated, driver_url, generate

ADMIN_URL = os.environ.get(
    "KAP_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ROOT = Path(__file__).resolve().parents[2]
LUA = Path(__file__).with_name("wrk.lua")
OURS = [sys.executable, "-c", "from app.cli import main; main()", "serve", "--no-worker"]
CEILING = [sys.executable, "-m", "uvicorn", "bench.scale.ceiling:create_app", "--factory"]
SCENARIOS = ("journey", "worklist")
SIDES = ("ours", "ceiling")
PATHS_PER_SCENARIO = 20_000


# --- Machine -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot (Linux /proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def pinned(cpu: int, command: list[str]) -> list[str]:
    if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > cpu:  # type: ignore[operator]
        return ["taskset", "-c", str(cpu), *command]
    return command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_for_quiet(limit: float, patience_s: float) -> float:
    """Wait (up to `patience_s`) for the 1-minute load average to fall below `limit`."""
    for _ in range(int(patience_s // 5)):
        if os.getloadavg()[0] < limit:
            break
        await asyncio.sleep(5)
    return os.getloadavg()[0]


# --- Servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start(name: str, command: list[str], database_url: str, folder: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "KAP_DATABASE_URL": database_url,
        "KAP_SECRET_KEY": SECRET_KEY,
        "KAP_RATE_LIMIT_PER_MINUTE": "0",  # one key sends thousands a second
        "KAP_LOG_LEVEL": "WARNING",
    }
    log = folder / f"{name}.log"
    args = [*command, "--host", "127.0.0.1", "--port", str(port)]
    if name == "ceiling":
        args += ["--log-level", "warning", "--no-access-log"]
    with log.open("wb") as out:
        process = subprocess.Popen(pinned(0, args), env=env, cwd=ROOT, stdout=out, stderr=out)
    server = Server(name, process, port, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.1)


# --- Requests ------------------------------------------------------------------------------------


def request_lists(made: Generated, seed: int) -> dict[str, list[tuple[str, str]]]:
    """(key, path) per scenario, drawn with a fixed seed: the same sequence for both sides."""
    rng = random.Random(seed)
    journeys = []
    worklists = []
    for _ in range(PATHS_PER_SCENARIO):
        clinic = rng.choice(made.clinics)
        client = rng.choice(clinic.client_ids)
        journeys.append((clinic.api_key, f"/api/v1/clients/{client}/journey"))
        clinic = rng.choice(made.clinics)
        path = "/api/v1/worklists/integration"
        if rng.random() < 0.5:
            path += f"?clinician_id={rng.choice(clinic.clinician_ids)}"
        worklists.append((clinic.api_key, path))
    return {"journey": journeys, "worklist": worklists}


# --- Keeping the ceiling honest ------------------------------------------------------------------


class RecordingConnection:
    """An asyncpg connection that notes what the ceiling sends."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.sent.append((query, args))
        return list(await self.connection.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.sent.append((query, args))
        return await self.connection.fetchrow(query, *args)

    async def executemany(self, command: str, args: Sequence[Sequence[Any]]) -> None:
        self.sent.append((command, tuple(args[0]) if args else ()))
        await self.connection.executemany(command, args)


def _comparable(parameters: Sequence[Any]) -> Counter[str]:
    """Parameters without what depends on the moment or the request (times, ids of new rows)."""
    kept = Counter[str]()
    for value in parameters:
        if isinstance(value, datetime) or (isinstance(value, int) and value > 10**15):
            continue
        kept[repr(value)] += 1
    return kept


def _ids(body: dict[str, Any], keys: Sequence[str]) -> list[list[str]]:
    return [[str(item["id"]) for item in body[key]] for key in keys]


async def check_ceiling(url: str, paths: list[tuple[str, str]]) -> None:
    """For each (key, path): the ceiling sends the statements our API sends, in the same order,
    with the same parameters (but for times and new ids), and finds the same sessions."""
    connection = await asyncpg.connect(driver_url(url))
    try:
        async with recording_app(url) as app:
            for key, path in paths:
                response, captured = await app.get(path, key)
                assert response.status_code == 200, (path, response.text)
                ours = [s for s in captured if not s.text.startswith("UPDATE api_keys")]
                recorder = RecordingConnection(connection)
                prefix = key.split("_")[1]
                transaction = connection.transaction()
                await transaction.start()
                try:
                    body, keys = await _ceiling_body(recorder, prefix, path)
                finally:
                    await transaction.rollback()
                _compare(path, ours, recorder.sent)
                assert body is not None, path
                theirs = _ids(body, keys)
                expected = _ids(response.json(), keys)
                if theirs != expected:
                    raise AssertionError(f"{path}: the ceiling found other sessions than ours")
    finally:
        await connection.close()


async def _ceiling_body(
    recorder: RecordingConnection, prefix: str, path: str
) -> tuple[dict[str, Any] | None, Sequence[str]]:
    now = datetime.now(UTC)
    if path.endswith("/journey"):
        client_id = uuid.UUID(path.split("/")[4])
        return await ceiling.journey(recorder, prefix, client_id, now), ("sessions",)
    clinician = path.partition("clinician_id=")[2]
    body = await ceiling.worklist(
        recorder, prefix, uuid.UUID(clinician) if clinician else None, ceiling.DEFAULT_LIMIT, now
    )
    return body, ("unbooked", "outside_window")


def _compare(path: str, ours: list[Statement], sent: list[tuple[str, tuple[Any, ...]]]) -> None:
    if [s.text for s in ours] != [normalized(sql) for sql, _ in sent]:
        lines = [f"{path}: the ceiling's SQL differs from the app's; update bench/scale/ceiling.py"]
        for mine, (theirs, _) in zip(ours, sent, strict=False):
            if mine.text != normalized(theirs):
                lines += [f"app:     {mine.text}", f"ceiling: {normalized(theirs)}"]
        lines.append(f"({len(ours)} statements from the app, {len(sent)} from the ceiling)")
        raise AssertionError("\n".join(lines))
    for mine, (sql, parameters) in zip(ours, sent, strict=True):
        if sql.startswith("SELECT") and _comparable(mine.parameters) != _comparable(parameters):
            raise AssertionError(
                f"{path}: parameters differ for\n{mine.text}\napp: {mine.parameters}\n"
                f"ceiling: {parameters}"
            )


# --- Load ----------------------------------------------------------------------------------------


@dataclass
class Measure:
    requests: int = 0
    seconds: float = 0.0
    received: int = 0  # bytes, headers included
    errors: int = 0
    non_2xx: int = 0
    latency_us: dict[float, float] = field(default_factory=dict)  # value -> weight (requests)
    server_cpu_s: float = 0.0
    postgres_cpu_s: float = 0.0
    machine_busy_s: float = 0.0
    own_cpu_s: float = 0.0  # server + PostgreSQL + wrk

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Percentile in milliseconds, from the rounds' quantiles weighted by their requests."""
        total = sum(self.latency_us.values())
        rank = p / 100 * total
        seen = 0.0
        for value in sorted(self.latency_us):
            seen += self.latency_us[value]
            if seen >= rank:
                return value / 1000
        return 0.0

    def add(self, other: "Measure") -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.received += other.received
        self.errors += other.errors
        self.non_2xx += other.non_2xx
        for value, weight in other.latency_us.items():
            self.latency_us[value] = self.latency_us.get(value, 0.0) + weight
        self.server_cpu_s += other.server_cpu_s
        self.postgres_cpu_s += other.postgres_cpu_s
        self.machine_busy_s += other.machine_busy_s
        self.own_cpu_s += other.own_cpu_s


async def postgres_pids(database: str) -> list[int]:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


async def drive(
    server: Server, requests_file: Path, seconds: float, connections: int, database: str
) -> Measure:
    """One wrk run against `server`; its counts, latencies and the CPU it took."""
    report = requests_file.with_suffix(f".{server.name}.report")
    pids = await postgres_pids(database)
    server_cpu = cpu_seconds(server.process.pid)
    postgres_cpu = sum(cpu_seconds(pid) for pid in pids)
    busy = machine_busy_seconds()
    command = pinned(
        1,
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            f"{server.base}/",
            "--",
            str(requests_file),
        ],
    )
    before = os.times()
    process = await asyncio.create_subprocess_exec(
        *command,
        env={**os.environ, "WRK_REPORT": str(report)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    after = os.times()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {stderr.decode()}")
    measure = _read_report(report)
    measure.server_cpu_s = cpu_seconds(server.process.pid) - server_cpu
    measure.postgres_cpu_s = sum(cpu_seconds(pid) for pid in pids) - postgres_cpu
    measure.machine_busy_s = machine_busy_seconds() - busy
    wrk_cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    measure.own_cpu_s = measure.server_cpu_s + measure.postgres_cpu_s + wrk_cpu
    return measure


def _read_report(report: Path) -> Measure:
    first, *rest = report.read_text().splitlines()
    counts = [int(v) for v in first.split()]
    requests, duration_us, received, connect, read, write, status, timeout = counts
    latency: dict[float, float] = {}
    for line in rest:  # 1000 quantiles, each standing for a thousandth of the requests
        value = float(line)
        latency[value] = latency.get(value, 0.0) + requests / len(rest)
    return Measure(
        requests=requests,
        seconds=duration_us / 1e6,
        received=received,
        errors=connect + read + write + timeout,
        non_2xx=status,
        latency_us=latency,
    )


# --- One size ------------------------------------------------------------------------------------


@dataclass
class Size:
    """One size's database, request lists, servers and results."""

    sessions: int
    url: str
    generated: Generated | None = None
    files: dict[str, Path] = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)
    results: dict[tuple[str, str], Measure] = field(default_factory=dict)

    @property
    def database(self) -> str:
        return make_url(self.url).database or ""

    def say(self, text: str) -> None:
        print(f"  {self.sessions:>9,} sessions: {text}", flush=True)


async def create_scratch() -> str:
    name = f"kap_scale_{os.getpid()}_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = make_url(ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def drop_scratch(url: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        name = make_url(url).database
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def prepare(size: Size, options: argparse.Namespace, folder: Path) -> None:
    """Migrate and fill the database, check the ceiling, start both servers and warm them up."""
    await asyncio.to_thread(upgrade, size.url)
    made = size.generated = await generate(size.url, size.sessions, seed=options.seed)
    size.say(
        f"generated {made.sessions:,} sessions, {made.clients:,} clients, "
        f"{len(made.clinics)} clinics in {made.seconds:.1f} s"
    )
    lists = request_lists(made, options.seed)
    for scenario, requests in lists.items():
        size.files[scenario] = folder / f"{size.sessions}-{scenario}.tsv"
        size.files[scenario].write_text("".join(f"{key}\t{path}\n" for key, path in requests))
    if options.no_jit:  # for every connection to this scratch database, both sides alike
        connection = await asyncpg.connect(ADMIN_URL)
        try:
            await connection.execute(f'ALTER DATABASE "{size.database}" SET jit = off')
        finally:
            await connection.close()
    await check_ceiling(size.url, [*lists["journey"][:3], *lists["worklist"][:4]])
    size.say("the ceiling sends the app's SQL and finds the same sessions")
    size.servers = [
        start(f"ours-{size.sessions}", OURS, size.url, folder),
        start(f"ceiling-{size.sessions}", CEILING, size.url, folder),
    ]
    for server in size.servers:  # connections, statement caches, the OS page cache
        for scenario in SCENARIOS:
            await drive(
                server, size.files[scenario], options.warmup, options.connections, size.database
            )
    size.results = {(scenario, side): Measure() for scenario in SCENARIOS for side in SIDES}


async def measure_all(sizes: list[Size], options: argparse.Namespace) -> None:
    """Rounds over scenario, size and side, the order of sides and sizes alternating from one
    round to the next, so that whatever else the machine does falls on all of them alike."""
    for round_number in range(options.rounds):
        for scenario in SCENARIOS:
            ordered = sizes if round_number % 2 == 0 else sizes[::-1]
            for size in ordered:
                servers = size.servers if round_number % 2 == 0 else size.servers[::-1]
                for server in servers:
                    measure = await drive(
                        server,
                        size.files[scenario],
                        options.seconds,
                        options.connections,
                        size.database,
                    )
                    side = server.name.split("-")[0]
                    size.results[(scenario, side)].add(measure)


async def run(options: argparse.Namespace, folder: Path) -> tuple[list[Size], float]:
    sizes: list[Size] = []
    try:
        for sessions in options.sizes:
            sizes.append(Size(sessions, await create_scratch()))
            await prepare(sizes[-1], options, folder)
        load = await wait_for_quiet(options.quiet_load, options.patience)
        print(f"  warmed up; load average {load:.2f}; measuring", flush=True)
        await measure_all(sizes, options)
        return sizes, load
    except BaseException:
        for size in sizes:
            for server in size.servers:
                log = server.log.read_text()[-3000:]
                print(f"--- {server.name} log\n{log}", file=sys.stderr)
        raise
    finally:
        for size in sizes:
            for server in size.servers:
                server.stop()
            await drop_scratch(size.url)


# --- Report --------------------------------------------------------------------------------------


def _hardware() -> list[str]:
    cpu = memory = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return [
        f"nproc: {os.cpu_count()} ({cpu}); memory: {memory}",
        f"Python {platform.python_version()}, {platform.platform()}",
        f"load generator: {(wrk.stdout or wrk.stderr).splitlines()[0].split(' [')[0]}",
    ]


async def describe_machine() -> list[str]:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        version = await connection.fetchval("SELECT version()")
        settings = {
            name: await connection.fetchval(f"SHOW {name}")
            for name in ("shared_buffers", "work_mem", "jit", "synchronous_commit")
        }
    finally:
        await connection.close()
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    return [*_hardware(), f"PostgreSQL: {version}; {shown}"]


def table(sizes: list[Size]) -> list[str]:
    header = (
        "| sessions | scenario | side | req/s | p50 ms | p95 ms | p99 ms | server CPU/req "
        "| PG CPU/req | kB/resp | other load | errors |"
    )
    lines = [header, "|---:|---|---|" + "---:|" * 9]
    for size in sizes:
        for scenario in SCENARIOS:
            for side in SIDES:
                m = size.results[(scenario, side)]
                other = max(0.0, m.machine_busy_s - m.own_cpu_s) / max(m.seconds, 1e-9)
                other /= os.cpu_count() or 1
                lines.append(
                    f"| {size.sessions:,} | {scenario} | {side} | {m.rate:.0f} "
                    f"| {m.percentile(50):.1f} | {m.percentile(95):.1f} | {m.percentile(99):.1f} "
                    f"| {m.server_cpu_s / max(m.requests, 1) * 1000:.2f} ms "
                    f"| {m.postgres_cpu_s / max(m.requests, 1) * 1000:.2f} ms "
                    f"| {m.received / max(m.requests, 1) / 1000:.1f} "
                    f"| {other:.0%} | {m.errors + m.non_2xx} |"
                )
    return lines


def ratios(sizes: list[Size]) -> list[str]:
    lines = [
        "| sessions | scenario | ours/ceiling req/s | ours/ceiling p95 |",
        "|---:|---|---:|---:|",
    ]
    for size in sizes:
        for scenario in SCENARIOS:
            ours, top = size.results[(scenario, "ours")], size.results[(scenario, "ceiling")]
            lines.append(
                f"| {size.sessions:,} | {scenario} | {ours.rate / max(top.rate, 1e-9):.2f}x "
                f"| {ours.percentile(95) / max(top.percentile(95), 1e-9):.2f}x |"
            )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        lines += [
            "",
            f"| scenario | side | p95 at {large.sessions:,} / p95 at {small.sessions:,} |",
            "|---|---|---:|",
        ]
        for scenario in SCENARIOS:
            for side in SIDES:
                growth = large.results[(scenario, side)].percentile(95) / max(
                    small.results[(scenario, side)].percentile(95), 1e-9
                )
                lines.append(f"| {scenario} | {side} | {growth:.2f}x |")
    return lines


async def main_async(options: argparse.Namespace, argv: Sequence[str]) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install -y wrk")
    print(f"command: .venv/bin/python -m bench.scale.run {' '.join(argv)}".rstrip())
    print("\n".join(await describe_machine()), flush=True)
    with tempfile.TemporaryDirectory(prefix="kap-scale-") as folder:
        sizes, load = await run(options, Path(folder))
    print(
        f"\n{options.rounds} rounds of {options.seconds:g} s per scenario, size and side, "
        f"{options.connections} connections, sides and sizes alternating; "
        f"load average before measuring {load:.2f}; jit {'off' if options.no_jit else 'as set'}\n"
    )
    print("\n".join(table(sizes)))
    print()
    print("\n".join(ratios(sizes)))
    print()
    for size in sizes:
        assert size.generated is not None
        print(f"{size.sessions:,} sessions generated in {size.generated.seconds:.1f} s")
    summary = {
        f"{size.sessions}/{scenario}/{side}": {
            "rps": round(m.rate, 1),
            "p50": m.percentile(50),
            "p95": m.percentile(95),
            "p99": m.percentile(99),
        }
        for size in sizes
        for (scenario, side), m in size.results.items()
    }
    print(f"\njson: {json.dumps(summary)}")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale.run", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes",
        type=lambda value: [int(n) for n in value.split(",")],
        default=[10_000, 1_000_000],
        help="session counts, comma-separated (default 10000,1000000)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side and scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per side and scenario")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-jit", action="store_true", help="turn PostgreSQL's JIT off on the scratch databases"
    )
    parser.add_argument(
        "--quiet-load", type=float, default=1.0, help="wait for a load average below this"
    )
    parser.add_argument("--patience", type=float, default=120.0, help="how long to wait for it")
    parser.add_argument(
        "--quick", action="store_true", help="2k and 20k sessions, 1 round of 3 s: a smoke run"
    )
    options = parser.parse_args(args)
    if options.quick:
        options.sizes, options.seconds, options.rounds, options.warmup = [2000, 20_000], 3, 1, 1
        options.patience = 0
    asyncio.run(main_async(options, args))


if __name__ == "__main__":
    main()
