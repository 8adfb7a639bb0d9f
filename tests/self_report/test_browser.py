"""The client's side of a self-report link in headless Chromium, against the real service:
each instrument's form answered with the keyboard and sent, the 422 page for a missing item,
the 410 page for a link used twice, nothing loaded from anywhere but the service itself, and
no horizontal scrolling on a 320 px wide screen."""

import json
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from app.self_report.instruments import WORDINGS
from tests.self_report.support import ITEMS, requests_url
from tests.support.browser import (
    OfflinePage,
    browser,
    chromium,
    kap_journey_command,
    offline_page,
    served,
    served_env,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]
__all__ = ["browser", "chromium"]  # fixtures, used by name

CLINIC_NAME = "Harbor Light Psychiatry"
CLIENT = {"first_name": "Marisol", "last_name": "Etxeberria", "date_of_birth": "1986-11-05"}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Service:
    base_url: str
    api_key: str
    client_id: str

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)

    def link(self, instrument: str) -> dict[str, Any]:
        with self.api() as api:
            response = api.post(requests_url(self.client_id), json={"instrument": instrument})
        assert response.status_code == 201, response.text
        link: dict[str, Any] = response.json()
        assert link["url"].startswith(f"{self.base_url}/r/")
        return link

    def assessments(self) -> list[dict[str, Any]]:
        with self.api() as api:
            response = api.get(f"/api/v1/clients/{self.client_id}/assessments")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    """The real service with a clinic (bootstrapped by the CLI) and one client."""
    with tempfile.TemporaryDirectory(prefix="kap-self-report-") as folder:
        root = Path(folder)
        with served(root) as base_url:
            made = subprocess.run(
                kap_journey_command(
                    "bootstrap",
                    "--clinic-name",
                    CLINIC_NAME,
                    "--timezone",
                    "America/Chicago",
                    "--admin-email",
                    "admin@harbor.example",
                    "--json",
                ),
                cwd=root,
                env=served_env(root),
                capture_output=True,
                check=True,
                timeout=60,
            )
            key = json.loads(made.stdout)["api_key"]
            with httpx.Client(base_url=base_url, timeout=10) as http:
                response = http.post(
                    "/api/v1/clients", json=CLIENT, headers={"Authorization": f"Bearer {key}"}
                )
            assert response.status_code == 201, response.text
            yield Service(base_url, key, response.json()["id"])


def planned(instrument: str) -> list[int]:
    """Answers that use every choice somewhere; for the PHQ-9 item 9 is 1."""
    count, top = ITEMS[instrument]
    return [(2 * n + 1) % (top + 1) for n in range(count)]


async def answer_with_the_keyboard(page: Page, scores: list[int]) -> None:
    """Tab into each question's radio group and pick its answer with the arrow keys (or Space
    for the first choice), as a keyboard user does; then Tab to the button."""
    await page.locator("body").focus()
    for score in scores:
        await page.keyboard.press("Tab")
        if score == 0:
            await page.keyboard.press("Space")
        for _ in range(score):
            await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send my answers")).to_be_focused()


async def assert_checked_by_label(page: Page, instrument: str, scores: list[int]) -> None:
    """Each question (a group named by its legend) has the planned choice checked, found by
    its label."""
    wording = WORDINGS[instrument]  # type: ignore[index]
    for number, (item, score) in enumerate(zip(wording.items, scores, strict=True), start=1):
        group = page.get_by_role("group", name=f"{number}. {item}")
        choice = group.get_by_label(wording.choice_labels[score], exact=True)
        await expect(choice).to_be_checked()


def assert_only_own_origin(
    watched: OfflinePage, base_url: str, answered: tuple[int, ...] = ()
) -> None:
    """Nothing blocked, no error but Chromium's note of a page answered with an expected
    status, and every request to the service's own origin."""
    noted = {
        f"console: Failed to load resource: the server responded with a status of {status} "
        for status in answered
    }
    unexpected = [e for e in watched.errors if not any(e.startswith(n) for n in noted)]
    assert watched.blocked == [], f"the page reached outside the app: {watched.blocked}"
    assert unexpected == [], "\n".join(unexpected)
    origin = urlsplit(base_url)
    outside = [url for url in watched.requested if urlsplit(url)[:2] != origin[:2]]
    assert outside == [], outside
    assert watched.requested  # the recorder did see the page's own requests


async def no_horizontal_scroll(page: Page) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]"
    )
    assert max(widths[:2]) <= widths[2], widths


@pytest.mark.parametrize("instrument", ["phq9", "gad7", "pcl5"])
async def test_each_form_is_answered_with_the_keyboard_and_recorded(
    service: Service, browser: Browser, instrument: str
) -> None:
    link = service.link(instrument)
    scores = planned(instrument)
    async with offline_page(browser, **PHONE) as watched:
        page = watched.page
        opened = await page.goto(link["url"])
        assert opened is not None
        assert opened.status == 200
        await expect(page.locator("h1")).to_have_text(WORDINGS[instrument].title)  # type: ignore[index]
        await expect(page.get_by_text(CLINIC_NAME)).to_be_visible()
        body = await page.content()
        assert all(value not in body for value in CLIENT.values())
        await answer_with_the_keyboard(page, scores)
        await assert_checked_by_label(page, instrument, scores)
        async with page.expect_navigation() as navigation:
            await page.keyboard.press("Enter")
        sent = await navigation.value
        assert sent is not None
        assert sent.status == 200
        await expect(page.locator("h1")).to_have_text("Thank you")
        crisis = page.get_by_role("region", name="You are not alone")
        if instrument == "phq9":  # item 9 is 1
            await expect(crisis).to_be_visible()
            await expect(crisis).to_contain_text("call or text 988")
            await expect(crisis).to_contain_text("911")
        else:
            await expect(crisis).to_have_count(0)
        await watched.settle()
        assert_only_own_origin(watched, service.base_url)
    recorded = next(a for a in service.assessments() if a["item_scores"] == scores)
    assert (recorded["instrument"], recorded["source"]) == (instrument, "client_self_report")


async def test_a_missing_answer_gives_the_422_page_and_a_reused_link_the_410(
    service: Service, browser: Browser
) -> None:
    link = service.link("gad7")
    wording = WORDINGS["gad7"]  # type: ignore[index]
    async with offline_page(browser, **PHONE) as watched:
        page = watched.page
        await page.goto(link["url"])
        for number, item in enumerate(wording.items, start=1):
            if number != 3:
                group = page.get_by_role("group", name=f"{number}. {item}")
                await group.get_by_label("Several days", exact=True).check()
        async with page.expect_navigation() as navigation:
            await page.get_by_role("button", name="Send my answers").click()
        rejected = await navigation.value
        assert rejected is not None
        assert rejected.status == 422
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("Question 3")
        await expect(alert).to_contain_text("Nothing has been sent yet")
        # The link in the summary leads to the question; the other answers are kept.
        await alert.get_by_role("link", name="Question 3").click()
        assert page.url.endswith("#item3")
        third = page.get_by_role("group", name=f"3. {wording.items[2]}")
        await third.get_by_label("Nearly every day", exact=True).check()
        first = page.get_by_role("group", name=f"1. {wording.items[0]}")
        await expect(first.get_by_label("Several days", exact=True)).to_be_checked()
        async with page.expect_navigation() as navigation:
            await page.get_by_role("button", name="Send my answers").click()
        sent = await navigation.value
        assert sent is not None
        assert sent.status == 200

        reopened = await page.goto(link["url"])
        assert reopened is not None
        assert reopened.status == 410
        await expect(page.locator("h1")).to_have_text("This form has already been sent")
        await watched.settle()
        assert_only_own_origin(watched, service.base_url, answered=(422, 410))
    stored = [a for a in service.assessments() if a["item_scores"] == [1, 1, 3, 1, 1, 1, 1]]
    assert len(stored) == 1


async def test_every_page_fits_a_320_px_screen(service: Service, browser: Browser) -> None:
    async with offline_page(browser, width=320, height=640) as watched:
        page = watched.page
        for instrument in ("phq9", "gad7", "pcl5"):
            link = service.link(instrument)
            await page.goto(link["url"])
            await no_horizontal_scroll(page)
            font = await page.locator("legend").first.evaluate(
                "e => parseFloat(getComputedStyle(e).fontSize)"
            )
            assert font >= 16  # readable without zooming, and the stylesheet applied
        async with page.expect_navigation():
            await page.get_by_role("button", name="Send my answers").click()
        await expect(page.get_by_role("alert")).to_be_visible()  # the 422 page
        await no_horizontal_scroll(page)
        await page.goto(f"{service.base_url}/r/kapsr_000000000000_nothing")
        await expect(page.locator("h1")).to_have_text("This link does not work")
        await no_horizontal_scroll(page)
        await watched.settle()
        assert_only_own_origin(watched, service.base_url, answered=(422, 404))
