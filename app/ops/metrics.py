"""Prometheus metrics: request counts and latencies, every label from a closed set.

A label value a caller can choose (a method, a path, a status) would make one series per value,
and each series lives in memory until the process ends: so the method is one of the known HTTP
methods or `other`, the route is the matched route's template or `unmatched`, and the status is
a registered HTTP status or its class (`5xx`).
"""

import hmac
import logging
import time
from http import HTTPStatus
from threading import Thread
from typing import Annotated
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIServer

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import NotFound, Unauthorized

# RFC 9110 and RFC 5789; methods are case-sensitive, so `get` is `other` too.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
KNOWN_STATUSES = frozenset(status.value for status in HTTPStatus)
UNMATCHED = "unmatched"
log = logging.getLogger(__name__)
OTHER = "other"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER


def route_label(scope: Scope) -> str:
    """The matched route's template: routes are the app's own, a fixed set."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else UNMATCHED


def status_label(status: int) -> str:
    if status in KNOWN_STATUSES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status <= 599 else OTHER


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kap_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kap_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        # The labelled series by (method, route, status): prometheus_client's `labels` checks
        # and locks on every call, and the label sets are a closed few (above).
        self._series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def record(self, method: str, route: str, status: str, seconds: float) -> None:
        """One request: counted, and its latency observed."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self.requests.labels(*key), self.latency.labels(method, route)
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)


class MetricsMiddleware:
    """Pure ASGI middleware, so it adds no per-request task switching."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            method, route = method_label(scope.get("method", "")), route_label(scope)
            self.metrics.record(method, route, status_label(status), time.perf_counter() - started)


metrics_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="MetricsToken",
    description="`Authorization: Bearer <KAP_METRICS_TOKEN>`, where that setting is set.",
)


async def guard_metrics(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(metrics_bearer)],
) -> None:
    """Open `/metrics` only as configured: the token when one is set; not at all on the API's
    own address when metrics are served on an address of their own."""
    settings: Settings = request.app.state.settings
    if settings.metrics_bind is not None:
        raise NotFound()  # not even where they are: that address is the operator's to know
    if settings.metrics_token is None:
        return
    given = credentials.credentials.encode() if credentials is not None else b""
    # compare_digest: the time taken says nothing about how much of the token was right.
    if not hmac.compare_digest(given, settings.metrics_token.get_secret_value().encode()):
        raise Unauthorized("Send the metrics token as `Authorization: Bearer <token>`.")


def serve_apart(bind: str, metrics: Metrics) -> tuple[WSGIServer, Thread]:
    """Serve the metrics alone on `bind` (KAP_METRICS_BIND), from a daemon thread beside the
    API's event loop; prometheus_client's own server, which answers the text on every path."""
    parts = urlsplit(f"//{bind}")
    if parts.hostname is None or parts.port is None:
        raise ValueError("KAP_METRICS_BIND must be host:port")  # Settings checked it already
    served = start_http_server(parts.port, addr=parts.hostname, registry=metrics.registry)
    log.info("metrics served apart", extra={"fields": {"metrics_bind": bind}})
    return served
