"""Headless Debian Chromium for the browser tests, with the internet cut off, and the real
service in a subprocess for it to read.

Every request that leaves 127.0.0.1 is aborted and recorded, so a page that needs a CDN shows
up as a recorded request (or, since the pages carry a CSP, as a console error) and fails the
test. Test modules import the fixtures they use (`chromium`, `browser`).
"""

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Route,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

from tests.support.databases import IN_CI
from tests.support.servers import free_port, wait_until_healthy

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
STARTUP_TIMEOUT_S = 60.0


def kap_journey_command(*args: str) -> list[str]:
    """`kap-journey ...` from this interpreter's environment, exactly as an operator runs it."""
    script = Path(sys.executable).parent / "kap-journey"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from app.cli import main; main()", *args]


@contextmanager
def served(folder: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """`kap-journey serve` on a free port with a SQLite database in `folder`; its base URL.
    The database URL is `KAP_DATABASE_URL` of `served_env(folder)`."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    command = kap_journey_command(
        "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"
    )
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env={**served_env(folder), **(env or {})},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_until_healthy(base_url, process, STARTUP_TIMEOUT_S)
        except AssertionError as exc:
            pytest.fail(f"{exc}:\n{log.read_text()}")
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def served_env(folder: Path) -> dict[str, str]:
    return {**os.environ, "KAP_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'served.db'}"}


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium; CI must have it (the Makefile's `browser` target installs it)."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing (apt-get install chromium, or `make browser`)"
        if IN_CI:
            pytest.fail(f"{message}: the browser tests are mandatory in CI", pytrace=False)
        pytest.skip(f"{message}: browser tests skipped")
    return CHROMIUM


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
    """A browser page whose requests outside this machine are aborted and written down; every
    request it makes is recorded."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

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

    def on_request(self, request: Request) -> None:
        self.requested.append(request.url)

    def on_request_failed(self, request: Request) -> None:
        self.errors.append(f"request failed: {request.url} ({request.failure})")

    async def settle(self) -> None:
        """Let late requests (images mounted after render, workers) happen before asserting."""
        await self.page.wait_for_load_state("networkidle")

    def assert_self_contained(self) -> None:
        assert self.blocked == [], f"the page reached outside the app: {self.blocked}"
        assert self.errors == [], "\n".join(self.errors)


@asynccontextmanager
async def offline_page(
    browser: Browser, width: int = 1280, height: int = 900
) -> AsyncIterator[OfflinePage]:
    """A fresh context and page of that viewport, watched as OfflinePage."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    watched = OfflinePage(page)
    await page.route("**/*", watched.guard)
    page.on("console", watched.on_console)
    page.on("pageerror", watched.on_page_error)
    page.on("request", watched.on_request)
    page.on("requestfailed", watched.on_request_failed)
    try:
        yield watched
    finally:
        await context.close()
