"""PostgreSQL stopped and started under load, twice (a clean `fast` stop, then an `immediate`
one, which is a crash), beneath one `kap-journey serve` process.

While it is down: /readyz answers 503 problem+json, every API request a clean 503
`database_unavailable` (never a 500, never a hang), /healthz 200. Once it is back the same process
serves again, without a restart, and no write it acknowledged is missing.

It runs its own cluster (tests/faults/cluster.py): stopping the shared server would break
every other test on the machine.
"""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from tests.faults.cluster import PrivateCluster, private_cluster
from tests.faults.support import (
    Admin,
    Api,
    Fleet,
    bootstrap_admin,
    eventually,
    fetch,
)

CLIENTS = 4  # concurrent API users
REQUEST_TIMEOUT_S = 10.0  # what "never a hang" means here
SEEN = 3  # requests of each kind that must pass through a phase before it ends
WAIT_S = 30.0
PERSON = {"first_name": "Ada", "last_name": "Down", "date_of_birth": "1975-05-05"}


@dataclass(frozen=True)
class Outcome:
    sent_in: str  # the phase when the request went out, and when its answer came back
    answered_in: str
    request: str
    status: int | None  # None: no answer within the timeout, or the connection failed
    content_type: str = ""
    code: str | None = None
    error: str | None = None


@dataclass
class Traffic:
    """API users writing and listing clients nonstop, each outcome noted with its phase."""

    api: Api
    admin: Admin
    phase: str = "up"
    outcomes: list[Outcome] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    async def user(self, number: int, stop: asyncio.Event) -> None:
        timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
        async with httpx.AsyncClient(base_url=self.api.url, timeout=timeout) as http:
            writes = number % 2 == 0
            while not stop.is_set():
                await self.one(http, "POST /clients" if writes else "GET /clients")
                writes = not writes
                await asyncio.sleep(0.02)  # steady, not a flood: PostgreSQL needs the CPU too

    async def one(self, http: httpx.AsyncClient, request: str) -> None:
        sent_in = self.phase
        method, path = request.split()
        body = PERSON if method == "POST" else None
        try:
            response = await http.request(
                method, f"/api/v1{path}", json=body, headers=self.admin.headers
            )
        except httpx.TransportError as error:
            self.outcomes.append(Outcome(sent_in, self.phase, request, None, error=repr(error)))
            return
        problem = response.headers.get("content-type", "") == "application/problem+json"
        self.outcomes.append(
            Outcome(
                sent_in,
                self.phase,
                request,
                response.status_code,
                response.headers.get("content-type", ""),
                response.json().get("code") if problem else None,
            )
        )
        if response.status_code == 201:
            self.created.append(response.json()["id"])

    def within(self, phase: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.sent_in == phase and o.answered_in == phase]

    async def hold(self, phase: str, fleet: Fleet) -> None:
        """Stay in `phase` until SEEN writes and SEEN reads went out and came back in it."""

        async def enough() -> bool:
            seen = [o.request for o in self.within(phase)]
            return min(seen.count("POST /clients"), seen.count("GET /clients")) >= SEEN

        await eventually(enough, f"traffic in {phase!r}", timeout_s=WAIT_S, fleet=fleet)


def is_clean_503(outcome: Outcome) -> bool:
    return (outcome.status, outcome.content_type, outcome.code) == (
        503,
        "application/problem+json",
        "database_unavailable",
    )


async def probe(api: Api, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api.url, timeout=REQUEST_TIMEOUT_S) as http:
        return await http.get(path)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as made:
        yield made


@pytest.fixture
async def database_url(cluster: PrivateCluster) -> str:
    connection = await asyncpg.connect(cluster.admin_url)
    try:
        await connection.execute("CREATE DATABASE kap")
    finally:
        await connection.close()
    return cluster.url("kap")  # it goes with the cluster


async def outage(cluster: PrivateCluster, traffic: Traffic, fleet: Fleet, mode: str) -> None:
    """Stop the server under traffic, check the outage is clean, start it, check recovery."""
    api = traffic.api
    traffic.phase = f"{mode}: stopping"
    await asyncio.to_thread(cluster.stop, mode)
    traffic.phase = f"{mode}: down"
    readiness = await probe(api, "/readyz")
    assert readiness.status_code == 503, readiness.text
    assert readiness.headers["content-type"] == "application/problem+json"
    assert readiness.json()["code"] == "database_unavailable"
    assert (await probe(api, "/healthz")).status_code == 200  # alive, so not restarted
    await traffic.hold(traffic.phase, fleet)
    traffic.phase = f"{mode}: starting"
    await asyncio.to_thread(cluster.start)
    traffic.phase = f"{mode}: recovering"

    async def ready() -> bool:
        return (await probe(api, "/readyz")).status_code == 200

    await eventually(ready, "/readyz to answer 200 again", timeout_s=WAIT_S, fleet=fleet)
    traffic.phase = f"{mode}: recovered"
    await traffic.hold(traffic.phase, fleet)

    assert [o for o in traffic.within(f"{mode}: down") if not is_clean_503(o)] == []
    assert [o for o in traffic.within(f"{mode}: recovered") if o.status not in (200, 201)] == []


async def test_the_api_answers_503_while_postgres_is_down_and_recovers_by_itself(
    cluster: PrivateCluster, fleet: Fleet, database_url: str
) -> None:
    [api] = fleet.serve()  # migrates the new database; the in-process worker rides it out too
    traffic = Traffic(api, await bootstrap_admin(database_url))
    stop = asyncio.Event()
    users = [asyncio.create_task(traffic.user(number, stop)) for number in range(CLIENTS)]
    try:
        await traffic.hold("up", fleet)
        assert [o for o in traffic.within("up") if o.status not in (200, 201)] == []
        for mode in ("fast", "immediate"):
            await outage(cluster, traffic, fleet, mode)
    finally:
        stop.set()
        await asyncio.gather(*users)

    assert api.process.poll() is None, "the API process exited"
    # Whatever the phase, every answer was a success or a clean 503, and every request had one.
    assert [o for o in traffic.outcomes if o.status not in (200, 201) and not is_clean_503(o)] == []
    stored = {row[0] for row in await fetch(database_url, "SELECT id::text FROM clients")}
    assert set(traffic.created) <= stored, "an acknowledged write was lost"
