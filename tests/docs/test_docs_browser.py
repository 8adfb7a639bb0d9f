"""End to end: the real server in a subprocess, read by headless Chromium with the internet cut off.

Every request that leaves 127.0.0.1 is aborted and recorded, so a docs page that needs a CDN shows
up as a recorded request (or, since the pages carry a CSP, as a console error) and fails the test.
"""

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from playwright.async_api import Error as PlaywrightError

from tests.support.browser import OfflinePage, browser, chromium, offline_page, served

# Checking for Chromium first means a machine without it skips before starting the server.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]
__all__ = ["browser", "chromium"]  # fixtures, used by name

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The real service on a free port with a scratch SQLite database; stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="kap-docs-") as folder, served(Path(folder)) as url:
        yield url


@pytest.fixture
async def offline(browser: Browser) -> AsyncIterator[OfflinePage]:
    async with offline_page(browser) as watched:
        yield watched


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
