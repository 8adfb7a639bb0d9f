"""Instructions per request, ours and the ceiling's, counted by callgrind: the same figure on a
quiet machine and on a busy one.

Wall-clock and CPU-time figures move by 5-15 % between runs on a shared machine, more than most
single changes to the read path. Valgrind's callgrind counts the instructions this process
executes instead, which repeat to within about 1 % (the run's random request paths are seeded).
Only the measured loop is counted: a small C helper, compiled on first use, switches callgrind's
instrumentation on after the warm-up and dumps the counts at the end. The app runs in-process on
a generated database, called through ASGI as bench/scale/profile.py does; with `--ceiling`, the
ceiling's Starlette app is called the same way. PostgreSQL's own work is in another process and
is not counted (it is the same for both sides: bench/scale/ceiling_check.py).

    .venv/bin/python -m bench.scale.instructions URL KEY --scenario journey --requests 100
    .venv/bin/python -m bench.scale.instructions URL KEY --scenario worklist --ceiling
    .venv/bin/python -m bench.scale.instructions URL KEY --scenario clinic    # the floor

Needs valgrind, its headers (`/usr/include/valgrind`) and a C compiler; a run of 100 journeys
takes about 20 s, most of it Python's start-up under valgrind.
"""

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import uvloop

from bench.scale.profile import app_under_test, asgi_get, request_parser, request_paths

HELPER = """
#include <valgrind/callgrind.h>
void measure_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void measure_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS; }
"""
WARMUP = 50


def _helper(folder: Path) -> Path:
    """The helper library, compiled into `folder`."""
    source, library = folder / "measure.c", folder / "libmeasure.so"
    source.write_text(HELPER)
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", library, source], check=True)
    return library


async def _measured(options: argparse.Namespace, library: ctypes.CDLL) -> None:
    """Runs inside valgrind: warm up, then count only the measured requests."""
    count = options.requests + WARMUP
    paths = await request_paths(options.url, options.key, options.scenario, count, 1)
    app = app_under_test(options.url, ceiling=options.ceiling)
    async with app.router.lifespan_context(app):
        for path in paths[:WARMUP]:
            assert await asgi_get(app, path, options.key) == 200, path
        library.measure_start()
        for path in paths[WARMUP:]:
            await asgi_get(app, path, options.key)
        library.measure_stop()


def _instructions(folder: Path) -> int:
    """The instructions counted in the dumps callgrind wrote into `folder`."""
    total = 0
    for dump in folder.glob("callgrind.out*"):
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    return total


def main(argv: Sequence[str] | None = None) -> None:
    parser = request_parser(__doc__, requests=100)
    parser.add_argument("--ceiling", action="store_true", help="count the ceiling instead")
    parser.add_argument("--inside", metavar="LIBRARY", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.inside:  # the run under valgrind
        uvloop.run(_measured(options, ctypes.CDLL(options.inside)))
        return
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        arguments = [options.url, options.key, "--scenario", options.scenario]
        arguments += ["--requests", str(options.requests)]
        arguments += ["--ceiling"] if options.ceiling else []
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={folder / 'callgrind.out'}",
                sys.executable,
                "-m",
                "bench.scale.instructions",
                *arguments,
                "--inside",
                str(_helper(folder)),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        per_request = _instructions(folder) / options.requests / 1e6
    side = "ceiling" if options.ceiling else "ours"
    print(f"{options.scenario}, {side}: {per_request:.2f} M instructions per request")


if __name__ == "__main__":
    main()
