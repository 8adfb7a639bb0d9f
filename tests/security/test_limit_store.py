"""The rate-limit store: exact Retry-After from the sliding window, Redis shared between stores,
and the fallback to per-process counters while Redis is away: never an error, never unlimited,
logged once per outage, shown on /readyz, and back to Redis when it answers again."""

import logging
from pathlib import Path

import pytest
from limits import RateLimitItemPerMinute

from app.security import security_state
from app.security.limit_store import LimitStore
from tests.support.apps import HandClock, MakeApp, assert_problem, client_of
from tests.support.redis_store import own_redis, require_redis, unique_prefix
from tests.support.servers import free_port

ITEM = RateLimitItemPerMinute(4)
DOWN = "rate-limit store unreachable"
BACK = "rate-limit store reachable again"


def messages(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("offsets", [[0, 0, 0, 0], [5, 10, 30, 59], [50, 55, 65, 70, 90]])
async def test_reset_is_the_first_whole_second_a_request_is_admitted(
    wall: HandClock, offsets: list[int]
) -> None:
    store = LimitStore(None, "t")
    start = wall.now
    for offset in offsets:
        wall.now = start + offset
        await store.hit(ITEM, "k")
    refused = await store.peek(ITEM, "k")
    while refused.allowed:  # the early hits may have weighed off already: spend what is left
        await store.hit(ITEM, "k")
        refused = await store.peek(ITEM, "k")
    assert refused.remaining == 0
    now = wall.now
    wall.now = now + refused.reset - 1
    assert not (await store.peek(ITEM, "k")).allowed
    wall.now = now + refused.reset
    assert (await store.peek(ITEM, "k")).allowed


@pytest.mark.process  # the shared Redis
async def test_two_stores_on_one_redis_share_the_counts() -> None:
    url = require_redis("the shared rate-limit store")
    prefix = unique_prefix()
    first, second = LimitStore(url, prefix), LimitStore(url, prefix)
    answers = [(await store.hit(ITEM, "k")).allowed for store in (first, second) * 3]
    assert answers == [True, True, True, True, False, False]
    assert await first.status() == {"store": "redis", "shared": True}
    # Another prefix (another deployment on the same Redis) counts apart.
    assert (await LimitStore(url, unique_prefix()).hit(ITEM, "k")).allowed


async def test_an_unreachable_redis_falls_back_to_counting_per_process(
    caplog: pytest.LogCaptureFixture, wall: HandClock
) -> None:
    caplog.set_level(logging.WARNING)
    monotonic = HandClock()
    store = LimitStore(f"redis://127.0.0.1:{free_port()}/0", unique_prefix(), clock=monotonic)
    answers = [(await store.hit(ITEM, "k")).allowed for _ in range(6)]
    assert answers == [True] * 4 + [False] * 2  # still limited, in this process's memory
    status = await store.status()
    assert status["store"] == "memory"
    assert (status["shared"], status["configured"]) == (False, "redis")
    assert "unreachable" in status["detail"]
    assert messages(caplog, DOWN) == 1  # once per outage, not per request


@pytest.mark.process  # a redis-server of its own
async def test_redis_that_goes_away_and_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, wall: HandClock
) -> None:
    caplog.set_level(logging.WARNING)
    monotonic = HandClock()
    with own_redis(tmp_path) as redis:
        redis.start()
        store = LimitStore(redis.url, unique_prefix(), clock=monotonic, retry_seconds=5)
        other = LimitStore(redis.url, store.key_prefix)  # another replica
        assert (await store.hit(ITEM, "k")).allowed
        redis.stop()
        for _ in range(10):
            await store.hit(ITEM, "k")
        assert messages(caplog, DOWN) == 1
        assert (await store.status())["shared"] is False
        redis.start()  # empty again: it keeps nothing on disk
        monotonic.advance(4)
        assert (await store.status())["shared"] is False  # not retried before the interval
        monotonic.advance(1)
        assert await store.status() == {"store": "redis", "shared": True}  # /readyz's probe
        assert messages(caplog, BACK) == 1
        assert [(await s.hit(ITEM, "k")).allowed for s in (store, other) * 3] == [
            True,
            True,
            True,
            True,
            False,
            False,
        ]
        redis.stop()
        await store.hit(ITEM, "k")
        assert messages(caplog, DOWN) == 2  # a new outage, a new warning


async def test_the_app_keeps_serving_and_limiting_and_readyz_says_so(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture, wall: HandClock
) -> None:
    caplog.set_level(logging.WARNING)
    closed = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(rate_limit_per_minute=3, rate_limit_storage_url=closed)
    async with client_of(app) as http:
        answers = [(await http.get("/openapi.json")).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 429, 429]
        assert_problem(await http.get("/openapi.json"), 429, "rate_limited")
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        detail = ready.json()["details"]["rate_limit"]
        assert (detail["store"], detail["shared"], detail["configured"]) == (
            "memory",
            False,
            "redis",
        )
    assert messages(caplog, DOWN) == 1


async def test_readyz_names_the_store_when_all_is_well(make_app: MakeApp) -> None:
    async with client_of(make_app(rate_limit_per_minute=5)) as http:
        ready = (await http.get("/readyz")).json()
        assert ready["details"]["rate_limit"] == {"store": "memory", "shared": False}
    app = make_app(rate_limit_per_minute=0)
    state = security_state(app)
    assert state is not None
    async with client_of(app) as http:
        ready = (await http.get("/readyz")).json()
        assert ready["details"]["rate_limit"]["enabled"] is False


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379", "redis://", "memcached://127.0.0.1:11211", "127.0.0.1:6379"]
)
def test_only_redis_urls_are_accepted(url: str) -> None:
    from pydantic import ValidationError

    from app.config import Settings

    with pytest.raises(ValidationError, match="redis:// or rediss://"):
        Settings(rate_limit_storage_url=url)
    assert Settings(rate_limit_storage_url=" ").rate_limit_storage_url is None
