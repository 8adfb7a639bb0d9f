"""Helpers for calendar feed tests: issue a link, fetch and parse the feed."""

from typing import Any

import httpx
from icalendar import Calendar, Event

from tests.support.factories import Clinic


def token_url(staff_id: str) -> str:
    return f"/api/v1/staff/{staff_id}/calendar-token"


def feed_url(staff_id: str, token: str) -> str:
    return f"/api/v1/staff/{staff_id}/calendar.ics?token={token}"


async def issue(
    clinic: Clinic, staff_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A fresh feed link for `staff_id`, issued as the admin unless other headers are given."""
    return await clinic.ok("POST", token_url(staff_id), 201, headers=headers)


async def fetch(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """The feed as a calendar app asks for it: no Authorization header."""
    return await http.get(url)


async def read_feed(http: httpx.AsyncClient, url: str) -> tuple[bytes, Calendar]:
    response = await fetch(http, url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return response.content, Calendar.from_ical(response.content)


def events(calendar: Calendar) -> dict[str, Event]:
    """The feed's events by UID."""
    return {str(event["uid"]): event for event in calendar.events}
