"""What the read benchmark prints: the machine, then Markdown tables and a JSON summary.

The tables are the ones docs/performance.md quotes: per size, scenario and side the rate,
latency percentiles, CPU per request and other load; then ours against the ceiling (rate,
server CPU per request, p95), the CPU each side spends on a read beyond the floor's (the clinic
read, the fixed cost of an authenticated, audited request), and how p95 grows from the smallest
size to the largest.
"""

import argparse
import json
import os
import platform
import subprocess

from bench.machine import cpu_and_memory
from bench.scale.sizes import SCENARIOS, SIDES, Size
from bench.scale.wrk_driver import Measure
from bench.scratch_database import admin


def _hardware() -> list[str]:
    cpu, memory = cpu_and_memory()
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return [
        f"nproc: {os.cpu_count()} ({cpu}); memory: {memory}",
        f"Python {platform.python_version()}, {platform.platform()}",
        f"load generator: {(wrk.stdout or wrk.stderr).splitlines()[0].split(' [')[0]}",
    ]


async def describe_machine() -> list[str]:
    async with admin() as connection:
        version = await connection.fetchval("SELECT version()")
        settings = {
            name: await connection.fetchval(f"SHOW {name}")
            for name in ("shared_buffers", "work_mem", "jit", "synchronous_commit")
        }
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    return [*_hardware(), f"PostgreSQL: {version}; {shown}"]


def cpu_per_request_ms(measure: Measure) -> float:
    return measure.server_cpu_s / max(measure.requests, 1) * 1000


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
                    f"| {cpu_per_request_ms(m):.2f} ms "
                    f"| {m.postgres_cpu_s / max(m.requests, 1) * 1000:.2f} ms "
                    f"| {m.received / max(m.requests, 1) / 1000:.1f} "
                    f"| {other:.0%} | {m.errors + m.non_2xx} |"
                )
    return lines


FLOOR_NOISE_MS = 0.05
"""Less CPU than this above the floor, per request, is within what runs differ by."""


def above_the_floor(size: Size, scenario: str) -> tuple[float, float]:
    """Server CPU per request beyond the floor's (the clinic read: authenticated, audited, next
    to nothing else), ours and the ceiling's: what the scenario's own work costs each side."""
    return (
        cpu_per_request_ms(size.results[(scenario, "ours")])
        - cpu_per_request_ms(size.results[("clinic", "ours")]),
        cpu_per_request_ms(size.results[(scenario, "ceiling")])
        - cpu_per_request_ms(size.results[("clinic", "ceiling")]),
    )


def ratios(sizes: list[Size]) -> list[str]:
    lines = [
        "| sessions | scenario | ours/ceiling req/s | ours/ceiling server CPU/req "
        "| ours/ceiling p95 |",
        "|---:|---|---:|---:|---:|",
    ]
    for size in sizes:
        for scenario in SCENARIOS:
            ours, top = size.results[(scenario, "ours")], size.results[(scenario, "ceiling")]
            cpu = cpu_per_request_ms(ours) / max(cpu_per_request_ms(top), 1e-9)
            lines.append(
                f"| {size.sessions:,} | {scenario} | {ours.rate / max(top.rate, 1e-9):.2f}x "
                f"| {cpu:.2f}x | {ours.percentile(95) / max(top.percentile(95), 1e-9):.2f}x |"
            )
    lines += [
        "",
        "| sessions | scenario | ours above the floor | ceiling above the floor | ratio |",
        "|---:|---|---:|---:|---:|",
    ]
    for size in sizes:
        for scenario in SCENARIOS:
            if scenario == "clinic":
                continue
            ours_ms, ceiling_ms = above_the_floor(size, scenario)
            # A side at or barely above its floor has nothing to compare: noise, not a ratio.
            measurable = min(ours_ms, ceiling_ms) >= FLOOR_NOISE_MS
            ratio = f"{ours_ms / ceiling_ms:.2f}x" if measurable else "-"
            lines.append(
                f"| {size.sessions:,} | {scenario} | {ours_ms:.2f} ms | {ceiling_ms:.2f} ms "
                f"| {ratio} |"
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


def print_results(sizes: list[Size], options: argparse.Namespace, load: float) -> None:
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
