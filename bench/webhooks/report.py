"""What the webhook benchmark prints: the machine and settings, then one Markdown table with a
column per worker count (the tables bench/webhooks/README.md quotes)."""

import argparse
import os
import platform

from app.webhooks.dispatcher import BATCH, LEASE
from app.worker import IDLE_POLL_S
from bench.machine import cpu_and_memory
from bench.scratch_database import admin
from bench.webhooks.probes import WAIT_STATES
from bench.webhooks.results import Configuration, Result, percentile


async def describe_machine() -> list[str]:
    async with admin() as connection:
        postgres = await connection.fetchval("SELECT version()")
        sync = await connection.fetchval("SHOW synchronous_commit")
    cpu, memory = cpu_and_memory()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"nproc: {len(os.sched_getaffinity(0))} ({cpu}); memory: {memory}",
        f"PostgreSQL: {postgres} (synchronous_commit={sync}), on this machine",
        f"Python: {platform.python_version()} on {platform.platform()}",
        f"worker: IDLE_POLL_S={IDLE_POLL_S} s, claim batch {BATCH}, "
        f"lease {LEASE.total_seconds():.0f} s",
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
