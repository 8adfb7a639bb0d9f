"""One `wrk` run against one server, and what it measured: requests, latencies, CPU taken.

wrk runs on CPU 1 (the servers on CPU 0), with bench/scale/wrk.lua rotating through a request
list and writing its counts and 1000 latency quantiles to a report file. The CPU the server,
its PostgreSQL backends, wrk and the whole machine used is read from /proc around the run.
"""

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from bench.machine import cpu_seconds, machine_busy_seconds, pinned
from bench.scale.servers import Server
from bench.scratch_database import admin

LUA = Path(__file__).with_name("wrk.lua")


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
    """The backends serving the servers' connections to `database`: client backends only, as
    an autovacuum worker (busy after a large fill) does no request's work; its CPU counts as
    other load."""
    async with admin() as connection:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = $2",
            database,
            "client backend",
        )
    return [row["pid"] for row in rows]


def _cpu_since(started: dict[int, float]) -> float:
    """The CPU each backend used since `started`, over those still there: one that exited (an
    idle connection its pool closed while the other server was measured) reads as 0 and would
    take all its earlier CPU out of the sum."""
    return sum(max(cpu_seconds(pid) - before, 0.0) for pid, before in started.items())


async def drive(
    server: Server, requests_file: Path, seconds: float, connections: int, database: str
) -> Measure:
    """One wrk run against `server`; its counts, latencies and the CPU it took."""
    report = requests_file.with_suffix(f".{server.name}.report")
    pids = await postgres_pids(database)
    server_cpu = cpu_seconds(server.process.pid)
    postgres_cpu = {pid: cpu_seconds(pid) for pid in pids}
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
    measure.postgres_cpu_s = _cpu_since(postgres_cpu)
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
