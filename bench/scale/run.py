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
  clinic    GET /api/v1/clinic, each clinic's key in turn: an authenticated, audited request
            with almost nothing else to do, the floor every endpoint of ours stands on

Needs `wrk` (Debian: apt-get install wrk). Percentiles come from wrk's latency quantiles
(1000 a run), merged over the rounds. On 2 cores the load generator competes with the servers
and PostgreSQL, so the servers are pinned to CPU 0 and wrk to CPU 1 (PostgreSQL runs where the
kernel puts it), the same for both; the CPU each side used per request is reported beside the
rates, and so is the share of the machine that other processes took (other load).
Admin connection: KAP_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.scale.report import describe_machine, print_results
from bench.scale.sizes import SCENARIOS, Size, prepare
from bench.scale.wrk_driver import drive
from bench.scratch_database import create_scratch, drop_scratch


async def wait_for_quiet(limit: float, patience_s: float) -> float:
    """Wait (up to `patience_s`) for the 1-minute load average to fall below `limit`."""
    for _ in range(int(patience_s // 5)):
        if os.getloadavg()[0] < limit:
            break
        await asyncio.sleep(5)
    return os.getloadavg()[0]


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
            sizes.append(Size(sessions, await create_scratch("kap_scale")))
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


async def main_async(options: argparse.Namespace, argv: Sequence[str]) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install -y wrk")
    print(f"command: .venv/bin/python -m bench.scale.run {' '.join(argv)}".rstrip())
    print("\n".join(await describe_machine()), flush=True)
    with tempfile.TemporaryDirectory(prefix="kap-scale-") as folder:
        sizes, load = await run(options, Path(folder))
    print_results(sizes, options, load)


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
