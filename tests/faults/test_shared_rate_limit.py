"""Rate limits across real `kap-journey serve` processes.

- Two API processes counting in the shared Redis (127.0.0.1:6379, a key prefix of the test's own)
  hold one quota between them: the remaining count runs down across both, and once it is spent
  both answer 429.
- A process whose Redis does not answer keeps serving and limiting on its own counters, says so
  once in its log and on /readyz, which stays 200.
- The client address comes from X-Forwarded-For only when the connection is from a trusted proxy
  (KAP_TRUSTED_PROXIES, loopback by default; empty trusts none).
"""

from pathlib import Path

import httpx

from tests.faults.support import Api, Fleet, bootstrap_admin, environment_for
from tests.support.redis_store import require_redis, unique_prefix
from tests.support.servers import free_port

CLINIC = "/api/v1/clinic"
OPEN = "/openapi.json"  # takes no credentials: counted per client address


def remaining(response: httpx.Response) -> int:
    return int(response.headers["ratelimit"].rsplit(";r=", 1)[1].split(";", 1)[0])


async def test_two_apis_on_one_redis_share_each_callers_quota(
    fleet: Fleet, database_url: str
) -> None:
    fleet.environment.update(
        KAP_RATE_LIMIT_PER_MINUTE="8",
        KAP_RATE_LIMIT_STORAGE_URL=require_redis("the rate limit shared by two API processes"),
        KAP_RATE_LIMIT_KEY_PREFIX=unique_prefix(),
    )
    admin = await bootstrap_admin(database_url)
    apis = fleet.serve("--no-worker", replicas=2)
    seen = []
    async with httpx.AsyncClient(headers=admin.headers, timeout=15.0) as http:
        for n in range(8):
            response = await http.get(apis[n % 2].url + CLINIC)
            assert response.status_code == 200, response.text
            seen.append(remaining(response))
        assert seen == [7, 6, 5, 4, 3, 2, 1, 0], "each process counted on its own"
        for api in apis:
            refused = await http.get(api.url + CLINIC)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
        for api in apis:
            ready = (await http.get(api.url + "/readyz")).json()
            assert ready["details"]["rate_limit"] == {"store": "redis", "shared": True}


async def test_an_api_whose_redis_is_down_keeps_serving_and_limiting(
    fleet: Fleet, database_url: str
) -> None:
    fleet.environment.update(
        KAP_RATE_LIMIT_PER_MINUTE="3",
        KAP_RATE_LIMIT_STORAGE_URL=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
    )
    (api,) = fleet.serve("--no-worker")
    async with httpx.AsyncClient(base_url=api.url, timeout=15.0) as http:
        answers = [(await http.get(OPEN)).status_code for _ in range(6)]
        assert answers == [200, 200, 200, 429, 429, 429]
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    rate_limit = ready.json()["details"]["rate_limit"]
    assert (rate_limit["store"], rate_limit["shared"], rate_limit["configured"]) == (
        "memory",
        False,
        "redis",
    )
    assert fleet.logs().count("rate-limit store unreachable") == 1
    assert api.process.poll() is None


def _serve_alone(folder: Path, database_url: str, **settings: str) -> tuple[Fleet, Api]:
    folder.mkdir()
    fleet = Fleet(folder, environment_for(database_url, rate_limit_per_minute="2", **settings))
    try:
        (api,) = fleet.serve("--no-worker")
    except BaseException:
        fleet.stop_all()
        raise
    return fleet, api


async def _answers(api: Api, *forwarded_for: str) -> list[int]:
    async with httpx.AsyncClient(base_url=api.url, timeout=15.0) as http:
        return [
            (await http.get(OPEN, headers={"X-Forwarded-For": address})).status_code
            for address in forwarded_for
        ]


async def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    tmp_path: Path, database_url: str
) -> None:
    a, b = "203.0.113.1", "203.0.113.2"
    trusting, api = _serve_alone(tmp_path / "loopback", database_url)
    try:
        # Loopback is trusted by default: two forwarded clients, two quotas.
        assert await _answers(api, a, a, a, b) == [200, 200, 429, 200]
    finally:
        trusting.stop_all()
    distrusting, api = _serve_alone(tmp_path / "none", database_url, trusted_proxies="")
    try:
        # No proxy trusted: the header is the caller's word, and everything is loopback's.
        assert await _answers(api, a, b, b) == [200, 200, 429]
    finally:
        distrusting.stop_all()
