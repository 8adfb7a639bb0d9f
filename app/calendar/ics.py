"""Builds the iCalendar document of a feed from plain values: no database, no request.

Minimum necessary: an event names the session kind and the client's initials, never a full
name, notes, doses or contact details. Times are UTC instants; calendar apps show them in the
viewer's zone.

Every text value goes through `_text`: a `vText`, which the library escapes on output. Plain
strings are not enough, since icalendar types properties it does not know (`NAME`,
`X-WR-CALNAME`) as vUnknown and writes them raw, where a bare CR in a staff name injected lines.
Control characters are refused at input, but rows written before that rule may hold them, and
RFC 5545 text allows none but the tab: they become spaces here.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event, vDuration, vText

from app.common.schemas import ONE_LINE
from app.sessions.enums import Location, SessionKind, SessionStatus
from app.windows.rules import IntegrationStatus

PRODID = "-//KAP Journey//Calendar feed//EN"
UID_DOMAIN = "kap-journey"
REFRESH = timedelta(minutes=15)
SEPARATOR = " · "

KIND_LABELS = {
    SessionKind.preparation: "Preparation session",
    SessionKind.ketamine: "Dosing session",
    SessionKind.integration: "Integration session",
}
LOCATION_LABELS = {Location.telehealth: "Telehealth", Location.in_person: "In person"}
STATUS_TEXT = {
    SessionStatus.scheduled: "Scheduled.",
    SessionStatus.completed: "Completed.",
    SessionStatus.no_show: "No-show.",
    SessionStatus.cancelled: "Cancelled.",
}
WINDOW_TEXT = {
    IntegrationStatus.booked_in_window: "Integration is booked in this window.",
    IntegrationStatus.unbooked: "No integration session is booked in this window yet.",
    IntegrationStatus.missed: "The window closed with no integration session in it.",
}


@dataclass(frozen=True)
class SessionEntry:
    """One session as the feed shows it."""

    id: uuid.UUID
    kind: SessionKind
    status: SessionStatus
    location: Location
    starts_at: datetime
    ends_at: datetime
    updated_at: datetime
    version: int
    initials: str


@dataclass(frozen=True)
class WindowEntry:
    """The integration window a dose opens."""

    dose: SessionEntry
    opens_at: datetime
    closes_at: datetime
    status: IntegrationStatus


def _text(value: str) -> vText:
    """One line of iCalendar TEXT, escaped by the library; control characters become spaces."""
    return vText(ONE_LINE.scrub(value).strip())


def initials(first_name: str, last_name: str) -> str:
    """`Maya Okafor` → `M.O.`; only the first letter of each name ever leaves the service."""
    names = (ONE_LINE.scrub(name).strip() for name in (first_name, last_name))
    return "".join(f"{name[0].upper()}." for name in names if name)


def _summary(label: str, entry: SessionEntry) -> vText:
    return _text(f"{label}{SEPARATOR}{entry.initials}" if entry.initials else label)


def _session_event(entry: SessionEntry, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", f"{entry.id}@{UID_DOMAIN}")
    event.add("dtstamp", stamp)
    event.add("dtstart", entry.starts_at)
    event.add("dtend", entry.ends_at)
    event.add("summary", _summary(KIND_LABELS[entry.kind], entry))
    event.add("location", _text(LOCATION_LABELS[entry.location]))
    event.add("description", _text(STATUS_TEXT[entry.status]))
    event.add("last-modified", entry.updated_at)
    event.add("sequence", entry.version)
    # Cancelled stays in the feed so that calendar apps which keep vanished events remove it.
    cancelled = entry.status is SessionStatus.cancelled
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("class", "PRIVATE")
    return event


def _window_event(window: WindowEntry, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", f"{window.dose.id}-window@{UID_DOMAIN}")
    event.add("dtstamp", stamp)
    event.add("dtstart", window.opens_at)
    event.add("dtend", window.closes_at)
    event.add("summary", _summary("Integration window", window.dose))
    event.add("description", _text(WINDOW_TEXT[window.status]))
    event.add("sequence", window.dose.version)
    event.add("status", "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # a window is a span to book into, not busy time
    event.add("class", "PRIVATE")
    return event


def build_feed(
    calendar_name: str,
    sessions: Iterable[SessionEntry],
    windows: Iterable[WindowEntry],
    stamp: datetime,
) -> bytes:
    """The feed as iCalendar bytes (UTF-8, CRLF line endings, folded lines)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", _text(calendar_name))
    calendar.add("x-wr-calname", _text(calendar_name))
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    for entry in sessions:
        calendar.add_component(_session_event(entry, stamp))
    for window in windows:
        calendar.add_component(_window_event(window, stamp))
    document: bytes = calendar.to_ical()
    return document
