"""One size of the read benchmark: its scratch database, request lists, servers and results.

`prepare` takes a size from an empty scratch database to two warmed-up servers: migrate, fill
(bench/scale/generate.py), write the request lists, check the ceiling against the app, start
ours and the ceiling, and warm both up.
"""

import argparse
import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from app.migrate import upgrade
from bench.scale.ceiling_check import CLINIC, check_ceiling
from bench.scale.generate import Generated, generate
from bench.scale.servers import CEILING, OURS, Server, start
from bench.scale.wrk_driver import Measure, drive
from bench.scratch_database import admin

SCENARIOS = ("journey", "worklist", "clinic")
SIDES = ("ours", "ceiling")
PATHS_PER_SCENARIO = 20_000


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
    # The floor: every clinic's key in turn (drawn from no generator: the journeys and
    # worklists stay the sequences earlier runs measured).
    clinics = [(made.clinics[i % len(made.clinics)].api_key, CLINIC) for i in range(1000)]
    return {"journey": journeys, "worklist": worklists, "clinic": clinics}


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
        async with admin() as connection:
            await connection.execute(f'ALTER DATABASE "{size.database}" SET jit = off')
    await check_ceiling(
        size.url, [*lists["journey"][:3], *lists["worklist"][:4], *lists["clinic"][:2]]
    )
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
