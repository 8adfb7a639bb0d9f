"""The link pages are rate-limited per token and per client address, and every 429 there is a
page with Retry-After. The in-memory counters run on `wall`, moved by hand."""

import httpx
from fastapi import FastAPI

from tests.self_report.support import answers, create_link, page_path
from tests.support.apps import HandClock, MakeApp, client_of
from tests.support.factories import FakeClock, bootstrap


def _limited(make_app: MakeApp, **settings: int) -> FastAPI:
    return make_app(
        **{
            "rate_limit_per_minute": 1000,
            "rate_limit_failed_auth_per_minute": 1000,
            "self_report_per_address_per_minute": 1000,
            "self_report_per_token_per_minute": 1000,
            **settings,
        }
    )


def assert_refused_page(response: httpx.Response, policy: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Too many attempts" in response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["ratelimit-policy"].startswith(f'"{policy}"')
    assert response.headers["cache-control"] == "no-store"


async def test_one_link_is_limited_whatever_address_it_comes_from(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = _limited(make_app, self_report_per_token_per_minute=3)
    async with client_of(app, ip="198.51.100.1") as staff_http:
        clinic = await bootstrap(app, staff_http, clock)
        client = await clinic.client()
        link = await create_link(clinic, client["id"], "gad7")
        other = await create_link(clinic, client["id"], "gad7")
    for n in range(3):
        async with client_of(app, ip=f"203.0.113.{n + 1}") as http:
            assert (await http.get(page_path(link))).status_code == 200
    async with client_of(app, ip="203.0.113.9") as http:
        assert_refused_page(await http.get(page_path(link)), "self-report-token")
        assert_refused_page(
            await http.post(page_path(link), data=answers("gad7")), "self-report-token"
        )
        assert (await http.get(page_path(other))).status_code == 200  # another link is fine
        wall.advance(120)  # past the sliding window
        response = await http.post(page_path(link), data=answers("gad7"))
        assert response.status_code == 200, response.text  # the next minute, it goes through


async def test_one_address_is_limited_across_links(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = _limited(make_app, self_report_per_address_per_minute=3)
    async with client_of(app, ip="198.51.100.1") as staff_http:
        clinic = await bootstrap(app, staff_http, clock)
        client = await clinic.client()
        links = [await create_link(clinic, client["id"], "gad7") for _ in range(4)]
    async with client_of(app, ip="203.0.113.7") as http, client_of(app, ip="203.0.113.8") as other:
        for link in links[:3]:
            assert (await http.get(page_path(link))).status_code == 200
        assert_refused_page(await http.get(page_path(links[3])), "self-report-address")
        assert_refused_page(await http.get("/r/kapsr_000000000000_guess"), "self-report-address")
        assert (await other.get(page_path(links[3]))).status_code == 200
        wall.advance(120)  # past the sliding window
        assert (await http.get(page_path(links[3]))).status_code == 200


async def test_guessed_tokens_spend_the_failed_authentication_budget(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = _limited(make_app, rate_limit_failed_auth_per_minute=2)
    async with client_of(app, ip="198.51.100.1") as staff_http:
        clinic = await bootstrap(app, staff_http, clock)
        client = await clinic.client()
        link = await create_link(clinic, client["id"], "gad7")
    async with client_of(app, ip="203.0.113.5") as http:
        for n in range(2):
            assert (await http.get(f"/r/kapsr_{n:012d}_guess")).status_code == 404
        assert_refused_page(await http.get("/r/kapsr_000000000009_guess"), "failed-auth")
        assert_refused_page(await http.get(page_path(link)), "failed-auth")


async def test_the_services_own_address_quota_answers_a_page_there_too(
    make_app: MakeApp, clock: FakeClock, wall: HandClock
) -> None:
    app = _limited(make_app)
    async with client_of(app, ip="198.51.100.1") as staff_http:
        clinic = await bootstrap(app, staff_http, clock)
        client = await clinic.client()
        link = await create_link(clinic, client["id"], "gad7")
    tight = _limited(make_app, rate_limit_per_minute=2)
    async with client_of(tight, ip="203.0.113.6") as http:
        for _ in range(2):
            assert (await http.get(page_path(link))).status_code == 200
        assert_refused_page(await http.get(page_path(link)), "address")
        refused = await http.get("/api/v1/clinic")  # the JSON API answers problem+json still
        assert refused.headers["content-type"] == "application/problem+json"
