"""End to end: the real server in a subprocess, read by headless Chromium with the internet cut off.

Every request that leaves 127.0.0.1 is aborted and recorded, so a docs page that needs a CDN shows
up as a recorded request (or, since the pages carry a CSP, as a console error) and fails the test.
"""

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Route,
    async_playwright,
    expect,
)
from playwright.async_api import Error as PlaywrightError

from tests.support.databases import IN_CI
from tests.support.servers import wait_until_healthy

# Checking for Chromium first means a machine without it skips before starting the server.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]

CHROMIUM = Path("/usr/bin/chromium")
# Headless Chromium as root needs --no-sandbox; the rest keep it off the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
STARTUP_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve_command(port: int) -> list[str]:
    """`kap-journey serve` from this interpreter's environment, exactly as an operator runs it."""
    script = Path(sys.executable).parent / "kap-journey"
    if script.exists():
        entry = [str(script)]
    else:
        entry = [sys.executable, "-c", "from app.cli import main; main()"]
    return [*entry, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"]


def _wait_healthy(base_url: str, process: "subprocess.Popen[bytes]", log: Path) -> None:
    try:
        wait_until_healthy(base_url, process, STARTUP_TIMEOUT_S)
    except AssertionError as exc:
        pytest.fail(f"{exc}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium; CI must have it (the Makefile's `browser` target installs it)."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing (apt-get install chromium, or `make browser`)"
        if IN_CI:
            pytest.fail(f"{message}: the docs browser test is mandatory in CI", pytrace=False)
        pytest.skip(f"{message}: docs browser tests skipped")
    return CHROMIUM


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The real service on a free port with a scratch SQLite database; stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="kap-docs-") as folder:
        root = Path(folder)
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "KAP_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'docs.db'}"}
        log = root / "server.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                _serve_command(port), cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        try:
            _wait_healthy(base_url, process, log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class OfflinePage:
    """A browser page whose requests outside this machine are aborted and written down."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def guard(self, route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in {"data", "blob"} or url.hostname in LOCAL_HOSTS:
            await route.continue_()
            return
        self.blocked.append(route.request.url)
        await route.abort("internetdisconnected")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def on_page_error(self, error: PlaywrightError) -> None:
        self.errors.append(f"page error: {error}")

    def on_request_failed(self, request: Request) -> None:
        self.errors.append(f"request failed: {request.url} ({request.failure})")

    async def settle(self) -> None:
        """Let late requests (images mounted after render, workers) happen before asserting."""
        await self.page.wait_for_load_state("networkidle")

    def assert_self_contained(self) -> None:
        assert self.blocked == [], f"the page reached outside the app: {self.blocked}"
        assert self.errors == [], "\n".join(self.errors)


@pytest.fixture
async def offline(browser: Browser) -> AsyncIterator[OfflinePage]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    watched = OfflinePage(page)
    await page.route("**/*", watched.guard)
    page.on("console", watched.on_console)
    page.on("pageerror", watched.on_page_error)
    page.on("requestfailed", watched.on_request_failed)
    try:
        yield watched
    finally:
        await context.close()


async def _spec(server: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/openapi.json")
    response.raise_for_status()
    spec: dict[str, Any] = response.json()
    return spec


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


async def test_network_guard_blocks_and_records_outside_requests(
    offline: OfflinePage,
) -> None:
    # Without this, "nothing was blocked" below could just mean the guard never ran.
    with pytest.raises(PlaywrightError):
        await offline.page.goto("https://cdn.example.org/swagger-ui.css")
    assert offline.blocked == ["https://cdn.example.org/swagger-ui.css"]


async def test_swagger_ui_renders_every_operation_offline(
    server: str, offline: OfflinePage, tmp_path: Path
) -> None:
    spec = await _spec(server)
    operations = _operations(spec)
    page = offline.page

    await page.goto(f"{server}/docs")

    # Swagger UI renders one block per (tag, operation), with the operationId in its anchor.
    blocks = page.locator("#swagger-ui .opblock")
    await expect(blocks).to_have_count(sum(max(1, len(op.get("tags", []))) for _, op in operations))
    expected_ids = {
        f"operations-{tag.replace(' ', '_')}-{op['operationId']}"
        for _, op in operations
        for tag in op.get("tags") or ["default"]
    }
    rendered_ids = set(await blocks.evaluate_all("els => els.map(e => e.id)"))
    assert rendered_ids == expected_ids
    paths = page.locator("#swagger-ui .opblock-summary-path")
    shown_paths = set(await paths.evaluate_all("els => els.map(e => e.dataset.path)"))
    assert shown_paths == set(spec["paths"])
    assert "/api/v1/clients/{client_id}/journey" in shown_paths
    assert "operations-journeys-get_journey" in rendered_ids
    await expect(page.locator("#swagger-ui .info .title")).to_contain_text("KAP Journey")
    await expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    screenshot = tmp_path / "docs.png"
    await page.screenshot(path=str(screenshot))
    print(f"/docs screenshot: {screenshot}")

    # "Try it out" reaches the API from the page, under the page's Content-Security-Policy.
    health = page.locator("#operations-operations-get_health")
    await health.locator(".opblock-summary-control").click()
    await health.get_by_role("button", name="Try it out").click()
    await health.get_by_role("button", name="Execute").click()
    await expect(health.locator(".live-responses-table tbody .response-col_status")).to_have_text(
        "200"
    )
    await expect(health.locator(".live-responses-table .microlight").first).to_contain_text('"ok"')

    await offline.settle()
    offline.assert_self_contained()


async def test_redoc_renders_every_operation_offline(server: str, offline: OfflinePage) -> None:
    spec = await _spec(server)
    operations = _operations(spec)
    page = offline.page

    await page.goto(f"{server}/redoc")

    sections = page.locator("[data-section-id^='operation/']")
    await expect(sections).to_have_count(len(operations))
    shown_ids = await sections.evaluate_all("els => els.map(e => e.dataset.sectionId)")
    assert sorted(shown_ids) == sorted(f"operation/{op['operationId']}" for _, op in operations)
    headings = await page.locator("[data-section-id^='operation/'] h2").all_inner_texts()
    assert sorted(headings) == sorted(op["summary"] for _, op in operations)
    assert "Get a ketamine session" in headings

    # Search runs in a blob: worker, which the page's CSP has to allow.
    await page.get_by_placeholder("Search...").fill("ketamine")
    results = page.locator("[data-role='search:results']")
    # The index is built in that worker: on a loaded machine it can take longer than 5 s.
    await expect(results).to_contain_text("Get a ketamine session", timeout=30_000)

    await offline.settle()
    offline.assert_self_contained()


async def test_clinical_evidence_page_renders_offline(server: str, offline: OfflinePage) -> None:
    page = offline.page

    await page.goto(f"{server}/docs/clinical-evidence#pcl5-cutoff")

    await expect(page.locator("h1")).to_have_text("Clinical evidence")
    for anchor in ("integration-window", "rems-monitoring-record", "phq9-item-9", "dosing-gate"):
        await expect(page.locator(f"#{anchor}")).to_have_count(1)
    # Its one stylesheet is allowed by hash: a hash that went stale would leave it unstyled.
    heading = page.locator("h2").first
    assert await heading.evaluate("e => getComputedStyle(e).borderBottomStyle") == "solid"
    # The contents list moves within the page.
    await page.get_by_role("link", name="Dosing gate", exact=True).first.click()
    assert page.url.endswith("#dosing-gate")

    await offline.settle()
    offline.assert_self_contained()
