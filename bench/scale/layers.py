"""Where a request's CPU goes, layer by layer, ours beside the ceiling's.

For each side, `bench/scale/profile.py` runs twice in-process on a generated database: once
plain, for the CPU per request, and once under py-spy (sampling, `--format raw`), for how that
CPU divides. Each sample is put in the first layer of `LAYERS` one of its frames belongs to, so
a statement sent from inside the audit trail counts as SQL, not as audit; the layer's
milliseconds are its share of the request's samples times the plain run's CPU per request
(sampling slows the process it samples, so its own durations are not used). Samples of start-up
(imports, building the app, drawing the request list) are left out; the warm-up's requests stay
in, a few per cent of the run. Code SQLAlchemy runs in a greenlet shows only the greenlet's own
frames, none of the request's: its layer is read from those (the pool, the engine, the ORM),
and what it does at start-up (the dialect's first connect) is not told apart from requests.

    # py-spy comes with the dev extra; reading another process's stack needs ptrace
    .venv/bin/python -m bench.scale.layers URL KEY --scenario journey --requests 8000
"""

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.scale.profile import request_parser

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # The pool first: our checkout (with its ping after idle) and return run beneath SQLAlchemy's
    # engine frames, the ceiling's release resets the connection with a statement of its own.
    (
        "connection checkout and return",
        ("sqlalchemy/pool/", "_ping_when_idle.<locals>", "asyncpg/pool.py"),
    ),
    # Statements (BEGIN and COMMIT too): our plans and the adapter around the driver, SQLAlchemy's
    # execution for the statements that take it, the driver; the ceiling's asyncpg calls.
    (
        "SQL sent, rows read",
        (
            "app/db_direct.py",
            "app/db_plans.py",
            "app/db_held.py",
            "app/db_commit.py",
            "sqlalchemy/engine/",
            "dialects/",
            "asyncpg/connection.py",
            "asyncpg/prepared_stmt.py",
            "asyncpg/transaction.py",
        ),
    ),
    # Our session's commit and close (app/db.py) too, once its COMMIT is sent (that is SQL).
    (
        "ORM session: begin, commit, close",
        ("sqlalchemy/orm/", "sqlalchemy/ext/asyncio/", "sqlalchemy/util/", "(app/db.py"),
    ),
    ("JSON written", ("serialize_response", "_json (bench/scale/ceiling.py")),
    ("read models", ("app/sessions/read_models.py",)),
    ("window rule", ("app/windows/",)),
    (
        "alerts",
        ("alerts_for (", "_safety_alerts (", "_gate_alerts (", "_clinical_alerts ("),
    ),
    ("authentication", ("app/auth/", "_prefix (bench/scale/ceiling.py")),
    ("audit trail", ("app/audit/", "_write_audit")),
    ("dependency resolution", ("fastapi/dependencies/",)),
    ("endpoint, the rest", ("app/journeys/", "app/clinics/", "(bench/scale/ceiling")),
    ("unit of work", ("app/unit_of_work.py",)),
    ("routing and middleware", ("asgi_get (",)),
)
"""Layers in the order a sample is tested against them; the first whose marker is in one of
its frames takes it. Whatever is in none is the event loop and the driver's protocol, which
run outside any request's coroutine."""

OUTSIDE = "event loop, driver protocol"

OWN_WORK = ("JSON written", "read models", "window rule", "alerts", "authentication", "audit trail")
"""What the product does with a request that the ceiling does not (or does less of): the body
written from read models, the rule and its alerts, the key's secret checked, the reads noted
for the audit trail. Every other layer is plumbing around the statements, which the ceiling has
as well: a request path could at best cost what the ceiling's does there."""
START_UP = ("_load_unlocked", "request_paths (", "app_under_test (", "lifespan")


def layer_of(frames: Sequence[str]) -> str | None:
    """The layer of one sample's stack (outermost frame first); None for start-up."""
    if any(marker in frame for frame in frames for marker in START_UP):
        return None
    for layer, markers in LAYERS:
        if any(marker in frame for frame in frames for marker in markers):
            return layer
    return OUTSIDE


def shares(raw: Iterable[str]) -> dict[str, float]:
    """Each layer's share of the request samples in py-spy's raw output (`stack count` lines,
    frames joined by `;`)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        layer = layer_of(stack.split(";"))
        if layer is not None:
            counts[layer] += int(count)
    total = sum(counts.values())
    return {layer: count / total for layer, count in counts.items()} if total else {}


def bound(
    ours: dict[str, float], ours_cpu: float, ceiling: dict[str, float], ceiling_cpu: float
) -> float:
    """The CPU per request of a path with the ceiling's plumbing around our own work
    (`OWN_WORK`): the ceiling's CPU with its own share of those layers replaced by ours. Shares
    are each side's fractions of its CPU per request, as `shares` gives them."""
    ours_own = sum(ours.get(layer, 0.0) for layer in OWN_WORK) * ours_cpu
    ceiling_own = sum(ceiling.get(layer, 0.0) for layer in OWN_WORK) * ceiling_cpu
    return ceiling_cpu - ceiling_own + ours_own


def _profile(options: argparse.Namespace, ceiling: bool) -> list[str]:
    arguments = [sys.executable, "-m", "bench.scale.profile", options.url, options.key]
    arguments += ["--scenario", options.scenario, "--requests", str(options.requests)]
    arguments += ["--concurrency", str(options.concurrency)]
    return [*arguments, "--ceiling"] if ceiling else arguments


def _cpu_per_request(options: argparse.Namespace, ceiling: bool) -> float:
    printed = subprocess.run(
        _profile(options, ceiling), check=True, capture_output=True, text=True
    ).stdout
    found = re.search(r"([0-9.]+) ms CPU", printed)
    assert found is not None, printed
    return float(found.group(1))


def _py_spy() -> str:
    """py-spy beside this interpreter (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed (the dev extra has it): make .venv/.installed")
    return found


def _sampled(options: argparse.Namespace, ceiling: bool, folder: Path) -> dict[str, float]:
    raw = folder / ("ceiling.txt" if ceiling else "ours.txt")
    record = [_py_spy(), "record", "--rate", str(options.rate), "--format", "raw"]
    subprocess.run(
        [*record, "--output", str(raw), "--", *_profile(options, ceiling)],
        check=True,
        capture_output=True,
    )
    with raw.open() as lines:
        return shares(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = request_parser(__doc__, requests=4000)
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight")
    parser.add_argument("--rate", type=int, default=250, help="py-spy's samples per second")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        ours_cpu, ours = _cpu_per_request(options, False), _sampled(options, False, folder)
        ceiling_cpu, ceiling = _cpu_per_request(options, True), _sampled(options, True, folder)
    print(f"{options.scenario}, {options.requests} requests, {options.concurrency} in flight")
    print("| layer | ours, ms | ceiling, ms | ours, share |")
    print("|---|---:|---:|---:|")
    for layer in [*(name for name, _ in LAYERS), OUTSIDE]:
        mine, theirs = ours.get(layer, 0.0), ceiling.get(layer, 0.0)
        print(f"| {layer} | {mine * ours_cpu:.3f} | {theirs * ceiling_cpu:.3f} | {mine:.0%} |")
    print(f"| **CPU per request** | **{ours_cpu:.3f}** | **{ceiling_cpu:.3f}** | |")
    print(f"ours / ceiling: {ours_cpu / ceiling_cpu:.2f}x")
    best = bound(ours, ours_cpu, ceiling, ceiling_cpu)
    print(
        f"the ceiling's plumbing around our own work ({', '.join(OWN_WORK)}): "
        f"{best:.3f} ms, {best / ceiling_cpu:.2f}x"
    )


if __name__ == "__main__":
    main()
