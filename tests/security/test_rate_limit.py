"""Rate limits (API4): verified callers per staff member, everything else per client address,
failed authentications per address on a stricter budget (more in test_failed_authentication.py);
IETF RateLimit fields on the answers the API description names.

The in-memory counters run on `wall`, a clock moved by hand, so windows pass without sleeping.
"""

from app.security import security_state
from tests.security.support import CLINIC, count_statements, fields, limited
from tests.support.apps import HandClock, MakeApp, assert_problem, client_of
from tests.support.factories import FakeClock, bearer, bootstrap


async def test_a_verified_caller_is_limited_per_staff_member(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, per_minute=5)
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        seen = [fields(await clinic.get(CLINIC)) for _ in range(5)]
        assert [f["r"] for f in seen] == [4, 3, 2, 1, 0]
        assert {(f["policy"], f["q"], f["w"]) for f in seen} == {("caller", 5, 60)}
        assert 0 < seen[0]["t"] <= 61  # the first request weighs on for a whole window
        refused = await clinic.get(CLINIC)
        body = assert_problem(refused, 429, "rate_limited")
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 61
        assert f"{wait} s" in body["detail"]
        assert fields(refused) == {"policy": "caller", "q": 5, "w": 60, "r": 0, "t": wait}
        assert refused.headers["x-content-type-options"] == "nosniff"


async def test_the_caller_quota_is_the_staff_members_not_the_keys(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, per_minute=6)
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        made = await clinic.ok(
            "POST", "/api/v1/api-keys", 201, json={"staff_id": clinic.admin_id, "name": "2nd"}
        )
        second = bearer(made["key"])
        other_id, other = await clinic.staff("clinician")  # 2 more of the admin's requests
        for _ in range(3):
            assert (await clinic.get(CLINIC, headers=second)).status_code == 200
        assert_problem(await clinic.get(CLINIC), 429, "rate_limited")  # 6 spent by two keys
        # Another staff member, from the same address, has a quota of their own.
        mine = await http.get(CLINIC, headers=other)
        assert mine.status_code == 200
        assert fields(mine)["r"] == 5
        # A minute later the admin is served again.
        wall.advance(120)
        assert (await clinic.get(CLINIC)).status_code == 200
        assert other_id


async def test_retry_after_is_when_a_request_is_admitted_again(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, per_minute=4)
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        wall.advance(20)  # a third of the way into a window
        for _ in range(4):
            assert (await clinic.get(CLINIC)).status_code == 200
        wait = int((await clinic.get(CLINIC)).headers["retry-after"])
        wall.advance(wait - 1)
        again = await clinic.get(CLINIC)
        assert_problem(again, 429, "rate_limited")
        assert again.headers["retry-after"] == "1"
        wall.advance(1)
        assert (await clinic.get(CLINIC)).status_code == 200


async def test_made_up_keys_spend_the_addresss_failed_auth_budget_and_then_cost_nothing(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, per_minute=50, failed_auth=3)
    statements = count_statements(app)
    async with (
        client_of(app, ip="203.0.113.7") as attacker,
        client_of(app, ip="198.51.100.9") as elsewhere,
    ):
        for n in range(3):
            denied = await attacker.get(CLINIC, headers=bearer(f"kap_made{n}_{'x' * 43}"))
            assert_problem(denied, 401, "unauthorized")
            assert fields(denied) | {"t": 0} == {
                "policy": "failed-auth",
                "q": 3,
                "w": 60,
                "r": 2 - n,
                "t": 0,
            }
        statements.clear()
        for n in range(20):
            refused = await attacker.get(CLINIC, headers=bearer(f"kap_more{n}_{'x' * 43}"))
            assert_problem(refused, 429, "rate_limited")
            assert fields(refused)["policy"] == "failed-auth"
            assert "retry-after" in refused.headers
        assert statements == []  # no key was looked up, no audit row was written
        # A token that is no API key at all is no different.
        assert_problem(await attacker.get(CLINIC, headers=bearer("nope")), 429, "rate_limited")
        # Another address has its own budget.
        assert_problem(await elsewhere.get(CLINIC, headers=bearer("nope")), 401, "unauthorized")


async def test_junk_with_a_real_users_prefix_never_touches_that_users_key(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, per_minute=10, failed_auth=3)
    async with (
        client_of(app, ip="198.51.100.20") as victim_http,
        client_of(app, ip="203.0.113.66") as attacker,
    ):
        victim = await bootstrap(app, victim_http, clock)
        prefix = victim.admin_key.split("_")[1]
        answers = [
            (await attacker.get(CLINIC, headers=bearer(f"kap_{prefix}_{'y' * 43}"))).status_code
            for _ in range(200)
        ]
        assert answers == [401] * 3 + [429] * 197
        served = await victim.get(CLINIC)
        assert served.status_code == 200
        assert fields(served) | {"t": 0} == {"policy": "caller", "q": 10, "w": 60, "r": 9, "t": 0}


async def test_traffic_that_cannot_be_verified_is_limited_per_address(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, per_minute=4, failed_auth=50)
    async with client_of(app, ip="192.0.2.44") as http, client_of(app, ip="192.0.2.45") as other:
        clinic = await bootstrap(app, http, clock)
        feed = f"/api/v1/staff/{clinic.admin_id}/calendar.ics?token=kapcal_x_y"
        answers = [
            (await http.get(path)).status_code
            for path in (feed, "/openapi.json", "/no/such/path", feed)
        ]
        assert answers == [404, 200, 404, 404]  # a feed link that opens nothing is a 404
        refused = await http.get("/openapi.json")
        assert_problem(refused, 429, "rate_limited")
        assert fields(refused)["policy"] == "address"
        assert_problem(await http.get(CLINIC), 429, "rate_limited")  # no credentials either
        # Credentials sent to a route that verifies no caller do not buy another quota.
        junk = bearer(f"kap_junk_{'z' * 43}")
        assert_problem(await http.get(feed, headers=junk), 429, "rate_limited")
        # A verified caller from the same address is counted as themself.
        served = await clinic.get(CLINIC)
        assert served.status_code == 200
        assert fields(served)["policy"] == "caller"
        ok = await other.get("/openapi.json")
        assert (ok.status_code, fields(ok)["r"]) == (200, 3)


async def test_ipv6_clients_are_counted_per_64(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, per_minute=2)
    async with (
        client_of(app, ip="2001:db8:1:2::1") as first,
        client_of(app, ip="2001:db8:1:2:ffff::9") as same_64,
        client_of(app, ip="2001:db8:1:3::1") as next_64,
    ):
        assert (await first.get("/openapi.json")).status_code == 200
        assert (await same_64.get("/openapi.json")).status_code == 200
        assert_problem(await first.get("/openapi.json"), 429, "rate_limited")
        assert (await next_64.get("/openapi.json")).status_code == 200


async def test_fhir_answers_a_429_as_an_operation_outcome(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, failed_auth=1)
    async with client_of(app) as http:
        junk = bearer(f"kap_junk_{'z' * 43}")
        assert (await http.get("/fhir/R4/Patient/p-1", headers=junk)).status_code == 401
        refused = await http.get("/fhir/R4/Patient/p-1", headers=junk)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/fhir+json")
        assert refused.json()["issue"][0]["code"] == "throttled"
        assert "retry-after" in refused.headers


async def test_probes_and_metrics_are_never_limited(make_app: MakeApp, wall: HandClock) -> None:
    app = limited(make_app, per_minute=1, failed_auth=1)
    async with client_of(app) as http:
        assert (await http.get(CLINIC)).status_code == 401  # spends both budgets of one
        assert_problem(await http.get(CLINIC), 429, "rate_limited")
        assert_problem(await http.get(CLINIC, headers=bearer("nope")), 429, "rate_limited")
        for _ in range(5):
            for path in ("/healthz", "/readyz", "/metrics"):
                answer = await http.get(path)
                assert answer.status_code == 200, path
                assert "ratelimit" not in answer.headers


async def test_zero_turns_rate_limiting_off(make_app: MakeApp) -> None:
    app = make_app(rate_limit_per_minute=0, rate_limit_failed_auth_per_minute=1)
    state = security_state(app)
    assert state is not None
    assert state.rate_limits is None
    async with client_of(app) as http:
        for _ in range(30):
            answer = await http.get(CLINIC)
            assert answer.status_code == 401
            assert "ratelimit" not in answer.headers


async def test_the_fields_are_on_the_answers_the_api_description_names(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = limited(make_app, per_minute=20, failed_auth=5)
    description = app.openapi()["info"]["description"]
    assert "`RateLimit-Policy`" in description
    assert "every response once the" in description
    limited_answer = app.openapi()["paths"]["/api/v1/clients"]["get"]["responses"]["429"]
    assert {"RateLimit-Policy", "RateLimit", "Retry-After"} <= limited_answer["headers"].keys()
    async with client_of(app, ip="192.0.2.70") as http:
        clinic = await bootstrap(app, http, clock)
        _, scheduler = await clinic.staff("scheduler")
        denied = await http.post("/api/v1/api-keys", headers=scheduler, json={"name": "x"})
        assert denied.status_code == 403  # an error after the token was checked
        assert fields(denied)["policy"] == "caller"
        missing = await http.get("/no/such/path")  # no credentials: counted up front
        assert (missing.status_code, fields(missing)["policy"]) == (404, "address")
