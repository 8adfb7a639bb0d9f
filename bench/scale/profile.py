"""Our CPU per request, in-process: the quick loop for work on the read path.

The app runs in this process on a generated database (bench/scale/generate.py) and is called
straight through ASGI (no server, no HTTP client), one request at a time, so the CPU this process
spends per request is the app's own: routing, middleware, auth, SQL through SQLAlchemy, the
window rule, serialisation and the audit insert. It is not the benchmark (bench/scale/run.py
measures a served app against the ceiling); it is how to see where a change moves our share.
`--ceiling` measures the ceiling's app the same way; `--concurrency 8` keeps eight requests in
flight, as the benchmark's wrk connections do.

    .venv/bin/python -m bench.scale.generate postgresql://postgres@127.0.0.1/kap_profile \\
        --sessions 10000                     # prints each clinic's admin key
    .venv/bin/python -m bench.scale.profile postgresql://postgres@127.0.0.1/kap_profile KEY \\
        --scenario journey --requests 2000 [--cprofile 30] [--ceiling] [--concurrency 8]
"""

import argparse
import asyncio
import cProfile
import pstats
import random
import resource
import time
from collections.abc import MutableMapping, Sequence
from typing import Any

import asyncpg
import uvloop
from starlette.types import ASGIApp

from app.main import create_app
from bench.scale.capture import settings_for
from bench.scale.ceiling_check import CLINIC
from bench.scale.generate import driver_url

SCENARIOS = ("journey", "worklist", "clinic")
"""What the in-process tools can measure: the benchmark's two reads and the clinic read, an
authenticated, audited request that does next to nothing else (the pipeline's floor)."""


async def request_paths(url: str, key: str, scenario: str, count: int, seed: int) -> list[str]:
    """Journeys of random clients of the key's clinic, or worklists with and without a
    clinician, as the benchmark draws them; or the clinic read, the pipeline's floor."""
    if scenario == "clinic":
        return [CLINIC] * count
    prefix = key.split("_")[1]
    connection = await asyncpg.connect(driver_url(url))
    try:
        clinic_id = await connection.fetchval(
            "SELECT clinic_id FROM api_keys WHERE prefix = $1", prefix
        )
        clients = await connection.fetch("SELECT id FROM clients WHERE clinic_id = $1", clinic_id)
        clinicians = await connection.fetch(
            "SELECT id FROM staff WHERE clinic_id = $1 AND role = 'clinician'", clinic_id
        )
    finally:
        await connection.close()
    rng = random.Random(seed)
    if scenario == "journey":
        return [f"/api/v1/clients/{rng.choice(clients)['id']}/journey" for _ in range(count)]
    worklist = "/api/v1/worklists/integration"
    by_clinician = [f"{worklist}?clinician_id={row['id']}" for row in clinicians]
    return [rng.choice(by_clinician) if rng.random() < 0.5 else worklist for _ in range(count)]


async def asgi_get(app: ASGIApp, path: str, key: str) -> int:
    """One GET through the ASGI interface; the status (the body is read and dropped)."""
    route, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"profile.test"),
            (b"authorization", f"Bearer {key}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("profile.test", 80),
        "state": {},
    }
    status = 0

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def app_under_test(url: str, *, ceiling: bool) -> Any:
    """Our app, or the ceiling's, on the database at `url` (not started: enter its lifespan)."""
    if ceiling:
        from bench.scale.ceiling import create_app as create_ceiling

        return create_ceiling(driver_url(url))
    return create_app(settings_for(url))


async def _run(options: argparse.Namespace) -> None:
    paths = await request_paths(
        options.url, options.key, options.scenario, options.requests + options.warmup, 1
    )
    app = app_under_test(options.url, ceiling=options.ceiling)
    async with app.router.lifespan_context(app):
        for path in paths[: options.warmup]:
            assert await asgi_get(app, path, options.key) == 200, path
        measured = paths[options.warmup :]
        waiting = iter(measured)

        async def one_connection() -> None:  # as a wrk connection: one request at a time
            for path in waiting:
                await asgi_get(app, path, options.key)

        profiler = cProfile.Profile(time.process_time) if options.cprofile else None
        before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        await asyncio.gather(*(one_connection() for _ in range(options.concurrency)))
        if profiler is not None:
            profiler.disable()
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
    count = len(measured)
    user = (after.ru_utime - before.ru_utime) / count * 1000
    system = (after.ru_stime - before.ru_stime) / count * 1000
    print(
        f"{options.scenario}, {'ceiling' if options.ceiling else 'ours'}: {count} requests, "
        f"{user + system:.3f} ms CPU ({user:.3f} user, {system:.3f} system) and "
        f"{wall / count * 1000:.3f} ms wall per request, {options.concurrency} in flight "
        "(this process: the app, its driver and the event loop)"
    )
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(options.cprofile)
        stats.sort_stats("cumulative").print_stats(options.cprofile)


def request_parser(doc: str | None, *, requests: int) -> argparse.ArgumentParser:
    """The arguments the in-process tools share: the database, the key, what to request and how
    many times; described by the first paragraph of the tool's `doc`."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("url", help="a database filled by bench.scale.generate")
    parser.add_argument("key", help="an admin key it printed")
    parser.add_argument("--scenario", choices=SCENARIOS, default="journey")
    parser.add_argument("--requests", type=int, default=requests)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = request_parser(__doc__, requests=1000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--cprofile", type=int, default=0, metavar="N", help="print the top N functions"
    )
    parser.add_argument("--ceiling", action="store_true", help="measure the ceiling instead")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight")
    # uvloop, as `kap-journey serve` runs (uvicorn[standard]).
    uvloop.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
