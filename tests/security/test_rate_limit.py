"""Token buckets per API key (or client IP) answer 429 with Retry-After (API4)."""

from fastapi import FastAPI
from sqlalchemy import event

from app.security import security_state
from app.security.rate_limit import RateLimiter
from tests.factories import FakeClock, bearer, bootstrap
from tests.security.conftest import FakeMonotonic, MakeApp, assert_problem, client_of

CLINIC = "/api/v1/clinic"


def throttled(
    make_app: MakeApp, per_minute: int = 60, burst: int = 3
) -> tuple[FastAPI, FakeMonotonic]:
    """A new app limiting at `per_minute` with `burst`, its limiter on a hand-moved clock."""
    app = make_app(rate_limit_per_minute=per_minute, rate_limit_burst=burst)
    state = security_state(app)
    assert state is not None
    assert state.rate_limiter is not None
    monotonic = FakeMonotonic()
    state.rate_limiter.clock = monotonic
    return app, monotonic


async def test_a_key_past_its_burst_gets_429_until_its_bucket_refills(
    make_app: MakeApp, clock: FakeClock
) -> None:
    app, monotonic = throttled(make_app)  # 1 token a second, 3 at once
    statements: list[str] = []
    event.listen(
        app.state.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    async with client_of(app) as http:
        mine = await bootstrap(app, http, clock)
        other = await bootstrap(app, http, clock)
        for _ in range(3):
            await mine.ok("GET", CLINIC)
        statements.clear()
        response = await mine.get(CLINIC)
        body = assert_problem(response, 429, "rate_limited")
        assert response.headers["retry-after"] == "1"
        assert "1 s" in body["detail"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert statements == []  # refused without touching the database
        # Another key, from the same address, has its own bucket.
        await other.ok("GET", CLINIC)
        monotonic.advance(1)
        await mine.ok("GET", CLINIC)
        assert_problem(await mine.get(CLINIC), 429, "rate_limited")


async def test_requests_without_a_usable_key_are_limited_per_client_ip(
    make_app: MakeApp, clock: FakeClock
) -> None:
    app, _ = throttled(make_app)
    async with client_of(app, ip="203.0.113.7") as http, client_of(app, ip="198.51.100.9") as other:
        clinic = await bootstrap(app, http, clock)
        for _ in range(3):
            assert (await http.get(CLINIC)).status_code == 401
        assert_problem(await http.get(CLINIC), 429, "rate_limited")
        # A token that is not an API key counts against the address too.
        assert_problem(await http.get(CLINIC, headers=bearer("nope")), 429, "rate_limited")
        # Another address is unaffected, and so is a real key from the throttled address.
        assert (await other.get(CLINIC)).status_code == 401
        await clinic.ok("GET", CLINIC)


async def test_probes_and_metrics_are_never_limited(make_app: MakeApp) -> None:
    app, _ = throttled(make_app, burst=1)
    async with client_of(app) as http:
        assert (await http.get(CLINIC)).status_code == 401
        assert_problem(await http.get(CLINIC), 429, "rate_limited")
        for _ in range(5):
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await http.get(path)).status_code == 200, path


async def test_retry_after_is_whole_seconds_rounded_up(make_app: MakeApp) -> None:
    app, monotonic = throttled(make_app, per_minute=1, burst=1)
    async with client_of(app) as http:
        assert (await http.get(CLINIC)).status_code == 401
        assert (await http.get(CLINIC)).headers["retry-after"] == "60"
        monotonic.advance(59.5)
        assert (await http.get(CLINIC)).headers["retry-after"] == "1"
        monotonic.advance(0.5)
        assert (await http.get(CLINIC)).status_code == 401


async def test_zero_turns_rate_limiting_off(make_app: MakeApp) -> None:
    for overrides in ({"rate_limit_per_minute": 0}, {"rate_limit_burst": 0}):
        app = make_app(**overrides)
        state = security_state(app)
        assert state is not None
        assert state.rate_limiter is None
        async with client_of(app) as http:
            for _ in range(30):
                assert (await http.get(CLINIC)).status_code == 401


def test_idle_buckets_are_forgotten_without_changing_any_answer() -> None:
    monotonic = FakeMonotonic()
    limiter = RateLimiter(60, 3, clock=monotonic)
    assert [limiter.acquire("busy") for _ in range(4)][-1] > 0
    for n in range(1_000):
        limiter.acquire(f"caller-{n}")
    assert len(limiter) == 1_001  # nobody is idle yet, so "busy" is still throttled
    assert limiter.acquire("busy") > 0
    monotonic.advance(3)  # long enough to refill any bucket completely
    assert limiter.acquire("busy") == 0
    assert len(limiter) == 1
    assert [limiter.acquire("busy") for _ in range(3)] == [0, 0, 1.0]


def test_the_bucket_table_is_capped_under_a_flood_of_callers() -> None:
    limiter = RateLimiter(60, 3, clock=FakeMonotonic(), max_buckets=100)
    for n in range(10_000):
        limiter.acquire(f"caller-{n}")
    assert len(limiter) == 100
