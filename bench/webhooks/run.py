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
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from app.events.service import subscribe
from app.webhooks.fanout import WEBHOOK_FAN_OUT
from bench.webhooks.phases import Bench
from bench.webhooks.report import describe_machine, table


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
