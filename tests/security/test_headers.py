"""Every response carries the security headers; API data is never cached (API8)."""

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.security.headers import SecurityHeadersMiddleware
from tests.support.apps import client_of
from tests.support.factories import FakeClock, bearer, bootstrap

EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def assert_secured(response: httpx.Response) -> None:
    for name, value in EVERYWHERE.items():
        assert response.headers.get(name) == value, (response.url.path, name)


async def test_api_responses_carry_security_headers_and_are_never_cached(
    app: FastAPI, clock: FakeClock
) -> None:
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        client = await clinic.client()
        responses = [
            await clinic.get(f"/api/v1/clients/{client['id']}"),  # patient data
            await clinic.get("/api/v1/clients"),
            await clinic.get("/api/v1/no-such-thing"),  # 404 problem
            await http.get("/api/v1/clients", headers=bearer("kap_abc_wrong")),  # 401 problem
        ]
        assert [r.status_code for r in responses] == [200, 200, 404, 401]
        for response in responses:
            assert_secured(response)
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["content-security-policy"] == API_CSP


async def test_operations_and_the_spec_get_the_api_policy(app: FastAPI) -> None:
    async with client_of(app) as http:
        for path in ("/healthz", "/metrics", "/openapi.json"):
            response = await http.get(path)
            assert response.status_code == 200
            assert_secured(response)
            assert response.headers["content-security-policy"] == API_CSP


async def test_docs_pages_keep_their_own_content_security_policy(app: FastAPI) -> None:
    async with client_of(app) as http:
        for path in ("/docs", "/redoc"):
            response = await http.get(path)
            assert response.status_code == 200
            assert_secured(response)
            policy = response.headers["content-security-policy"]
            # The docs policy lets the page run its own scripts; the API policy would blank it.
            assert "script-src 'self'" in policy
            assert "frame-ancestors 'none'" in policy
            assert len(response.headers.get_list("content-security-policy")) == 1


@pytest.mark.unit
async def test_a_header_a_response_sets_itself_is_replaced_by_ours_not_doubled() -> None:
    # A handler's own Cache-Control or X-Frame-Options must not survive beside ours: a browser
    # or proxy reading the first of two could keep patient data or frame the page.
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        own = [
            (b"cache-control", b"public, max-age=60"),
            (b"X-Frame-Options", b"SAMEORIGIN"),
            (b"content-type", b"application/json"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": own})
        await send({"type": "http.response.body", "body": b"{}"})

    secured = SecurityHeadersMiddleware(handler)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=secured), base_url="http://test"
    ) as http:
        for path, cache_control in (
            ("/api/v1/x", ["no-store"]),
            ("/other", ["public, max-age=60"]),
        ):
            response = await http.get(path)
            assert_secured(response)
            assert response.headers.get_list("x-frame-options") == ["DENY"]
            assert response.headers.get_list("cache-control") == cache_control
            assert response.headers.get_list("content-security-policy") == [API_CSP]
            assert response.headers["content-type"] == "application/json"
