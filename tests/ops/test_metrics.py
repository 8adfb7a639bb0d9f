"""/metrics: labels from a closed set whatever callers send, and the two ways to protect it."""

import os
import random
import string
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr, ValidationError

from app.config import Settings
from app.ops.metrics import Metrics, method_label, serve_apart, status_label
from tests.support.apps import MakeApp, assert_problem
from tests.support.factories import bearer
from tests.support.servers import free_port, wait_until_healthy

TOKEN = "m" * 40


def _series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every series /metrics exposes: its sample name and labels, without the value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _junk(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=length))


async def test_callers_cannot_add_series(http: httpx.AsyncClient) -> None:
    """Random methods and paths: the number of series stays fixed (unknown method -> `other`,
    unknown path -> `unmatched`, a path under a route -> its template)."""
    rng = random.Random(12)

    async def flood(times: int) -> None:
        for _ in range(times):
            method = _junk(rng, 120).upper()
            await http.request(method, f"/{_junk(rng, 120)}")
            await http.request(method, f"/api/v1/clients/{_junk(rng, 40)}")
            await http.get(f"/{_junk(rng, 120)}/{_junk(rng, 8)}")
            await http.get(f"/api/v1/clients/{_junk(rng, 40)}")

    await flood(1)  # each kind of request once, and /metrics itself
    await http.get("/metrics")
    before = (await http.get("/metrics")).text
    await flood(150)
    after = (await http.get("/metrics")).text
    assert _series(after) == _series(before)
    labels = {dict(labels).get("method") for _, labels in _series(after)}
    assert not {label for label in labels if label and len(label) > 7}
    assert 'route="unmatched"' in after
    assert 'route="/api/v1/clients/{client_id}"' in after


def test_labels_for_values_nobody_registered() -> None:
    assert method_label("GET") == "GET"
    assert method_label("get") == "other"  # methods are case-sensitive
    assert method_label("X" * 120) == "other"
    assert status_label(404) == "404"
    assert status_label(299) == "2xx"
    assert status_label(1000) == "other"


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kap.test")


async def test_with_a_token_metrics_answer_only_that_token(make_app: MakeApp) -> None:
    async with _client(make_app(metrics_token=SecretStr(TOKEN))) as http:
        wrong = [{}, bearer(TOKEN[:-1] + "x"), bearer(TOKEN + "m"), {"Authorization": TOKEN}]
        for headers in wrong:
            refused = await http.get("/metrics", headers=headers)
            assert_problem(refused, 401, "unauthorized")
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "kap_http_requests_total" not in refused.text
        opened = await http.get("/metrics", headers=bearer(TOKEN))
        assert opened.status_code == 200
        assert "kap_http_requests_total" in opened.text
        assert (await http.get("/healthz")).status_code == 200  # probes stay open


async def test_without_a_token_metrics_are_open(make_app: MakeApp) -> None:
    async with _client(make_app()) as http:
        assert "kap_http_requests_total" in (await http.get("/metrics")).text


def test_a_metrics_token_must_be_long_and_a_bind_must_be_host_and_port() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(metrics_token=SecretStr("short"))
    assert Settings(metrics_token=SecretStr("")).metrics_token is None
    for bind in ("9100", "host", "host:port", "user@host:9100", "host:9100/metrics"):
        with pytest.raises(ValidationError, match="host:port"):
            Settings(metrics_bind=bind)
    assert Settings(metrics_bind="[::1]:9100").metrics_bind == "[::1]:9100"


async def test_metrics_served_apart_are_not_on_the_api_address(make_app: MakeApp) -> None:
    app = make_app(metrics_bind="127.0.0.1:9100")
    async with _client(app) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert_problem(await http.get("/metrics"), 404, "not_found")
        assert_problem(await http.get("/metrics", headers=bearer(TOKEN)), 404, "not_found")
    server, thread = serve_apart("127.0.0.1:0", app.state.metrics)
    try:
        async with httpx.AsyncClient() as outside:
            apart = await outside.get(f"http://127.0.0.1:{server.server_port}/metrics")
        assert apart.status_code == 200
        assert 'route="/healthz"' in apart.text  # the API's own counters
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_metrics_protection_is_in_the_openapi_document(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/metrics"]["get"]
    assert {"401", "404"} <= set(operation["responses"])
    assert "KAP_METRICS_TOKEN" in operation["description"]


@pytest.mark.process  # a real server
def test_kap_journey_serve_opens_the_metrics_address(tmp_path: Path) -> None:
    api, metrics = free_port(), free_port()
    environment = {
        **os.environ,
        "KAP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}",
        "KAP_METRICS_BIND": f"127.0.0.1:{metrics}",
    }
    command = [sys.executable, "-c", "from app.cli import main; main()", "serve", "--no-worker"]
    process = subprocess.Popen(
        [*command, "--port", str(api)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{api}", process)
        assert httpx.get(f"http://127.0.0.1:{api}/metrics").status_code == 404
        apart = httpx.get(f"http://127.0.0.1:{metrics}/metrics")
        assert apart.status_code == 200
        assert 'route="/healthz"' in apart.text
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.unit
def test_each_request_counts_in_its_own_series() -> None:
    # The labelled series are kept after first use; a request must still count in its own.
    metrics = Metrics()
    for status in ("200", "200", "404"):
        metrics.record("GET", "/api/v1/clients", status, 0.02)
    metrics.record("POST", "/api/v1/clients", "201", 0.3)
    count = metrics.registry.get_sample_value
    route = "/api/v1/clients"
    for method, status, expected in (("GET", "200", 2), ("GET", "404", 1), ("POST", "201", 1)):
        labels = {"method": method, "route": route, "status": status}
        assert count("kap_http_requests_total", labels) == expected, labels
    latency = "kap_http_request_duration_seconds_count"
    assert count(latency, {"method": "GET", "route": route}) == 3
    assert count(latency, {"method": "POST", "route": route}) == 1
