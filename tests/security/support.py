"""What the rate-limit tests share: reading the RateLimit fields, an app with limits on, and
the SQL an app sends."""

import re
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from app.security import security_state
from tests.support.apps import MakeApp

CLINIC = "/api/v1/clinic"
# draft-ietf-httpapi-ratelimit-headers: a String item with Integer parameters.
POLICY = re.compile(r'^"(?P<name>[a-z-]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
LIMIT = re.compile(r'^"(?P<name>[a-z-]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


def fields(response: httpx.Response) -> dict[str, Any]:
    """The RateLimit-Policy and RateLimit fields of `response`, parsed; they must agree."""
    policy = POLICY.fullmatch(response.headers["ratelimit-policy"])
    limit = LIMIT.fullmatch(response.headers["ratelimit"])
    assert policy, response.headers
    assert limit, response.headers
    assert policy["name"] == limit["name"]
    return {
        "policy": policy["name"],
        "q": int(policy["q"]),
        "w": int(policy["w"]),
        "r": int(limit["r"]),
        "t": int(limit["t"]),
    }


def limited(make_app: MakeApp, per_minute: int = 5, failed_auth: int = 3) -> FastAPI:
    app = make_app(rate_limit_per_minute=per_minute, rate_limit_failed_auth_per_minute=failed_auth)
    state = security_state(app)
    assert state is not None
    assert state.rate_limits is not None
    return app


def count_statements(app: FastAPI) -> list[str]:
    statements: list[str] = []
    event.listen(
        app.state.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    return statements
