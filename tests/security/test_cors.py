"""CORS answers only the configured origins, and lets them read every answer (API8)."""

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.support.apps import MakeApp, assert_problem, client_of
from tests.support.factories import FakeClock, bootstrap

APP = "https://app.example.org"
ADMIN = "https://admin.example.org:8443"
EVIL = "https://evil.example.com"
REQUEST_HEADERS = ("authorization", "content-type", "if-match", "idempotency-key", "x-request-id")
EXPOSED = {"etag", "location", "idempotent-replayed", "retry-after", "x-request-id"}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",")}


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": ", ".join(REQUEST_HEADERS),
    }


async def test_an_allowed_origin_can_read_responses_and_their_headers(
    make_app: MakeApp, clock: FakeClock
) -> None:
    app = make_app(cors_origins=f"{APP}, {ADMIN}/")
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        for origin in (APP, ADMIN):
            response = await clinic.get("/api/v1/clinic", headers={"Origin": origin})
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == origin
            assert listed(response.headers["access-control-expose-headers"]) >= EXPOSED
            assert "origin" in listed(response.headers["vary"])
            assert "access-control-allow-credentials" not in response.headers


async def test_another_origin_gets_no_cors_headers_at_all(
    make_app: MakeApp, clock: FakeClock
) -> None:
    app = make_app(cors_origins=APP)
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        for origin in (EVIL, "https://app.example.org.evil.com", "http://app.example.org"):
            response = await clinic.get("/api/v1/clinic", headers={"Origin": origin})
            assert response.status_code == 200
            assert cors_headers(response) == {}
            refused = await http.options("/api/v1/clients", headers=preflight(origin))
            assert refused.status_code >= 400
            assert cors_headers(refused) == {}


async def test_preflight_allows_the_methods_and_headers_the_api_uses(make_app: MakeApp) -> None:
    app = make_app(cors_origins=APP)
    async with client_of(app) as http:
        for method in ("GET", "POST", "PATCH", "DELETE"):
            response = await http.options("/api/v1/clients/x", headers=preflight(APP, method))
            assert response.status_code == 200, response.text
            assert response.headers["access-control-allow-origin"] == APP
            assert method.lower() in listed(response.headers["access-control-allow-methods"])
            assert set(REQUEST_HEADERS) <= listed(response.headers["access-control-allow-headers"])
            assert response.headers["x-frame-options"] == "DENY"


async def test_without_configured_origins_there_is_no_cors(make_app: MakeApp) -> None:
    app = make_app()
    assert app.state.settings.cors_origins == []
    async with client_of(app) as http:
        response = await http.get("/healthz", headers={"Origin": APP})
        assert cors_headers(response) == {}
        refused = await http.options("/api/v1/clients", headers=preflight(APP))
        assert cors_headers(refused) == {}


async def test_a_browser_can_read_a_429_and_its_retry_after(make_app: MakeApp) -> None:
    app = make_app(cors_origins=APP, rate_limit_per_minute=1)
    async with client_of(app) as http:
        await http.get("/api/v1/clinic", headers={"Origin": APP})
        response = await http.get("/api/v1/clinic", headers={"Origin": APP})
        assert_problem(response, 429, "rate_limited")
        assert response.headers["access-control-allow-origin"] == APP
        exposed = listed(response.headers["access-control-expose-headers"])
        assert {"retry-after", "ratelimit-policy", "ratelimit"} <= exposed


def test_origins_are_read_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAP_CORS_ORIGINS", " https://App.Example.org/ ,, http://localhost:5173")
    assert Settings().cors_origins == ["https://app.example.org", "http://localhost:5173"]
    monkeypatch.setenv("KAP_CORS_ORIGINS", "")
    assert Settings().cors_origins == []


@pytest.mark.parametrize(
    "value", ["*", "app.example.org", "https://app.example.org/path", "ftp://x.example", "https://"]
)
def test_anything_but_an_origin_is_refused_at_startup(value: str) -> None:
    with pytest.raises(ValidationError, match="not an origin"):
        Settings(cors_origins=value)
