"""Builders of the window rule's inputs for the pure-function tests: doses, sessions, policies."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.sessions.enums import Route, SessionStatus
from app.windows.policy import DEFAULT_CLOSES_AFTER_HOURS, WindowPolicy
from app.windows.rules import DoseFacts, IntegrationFacts, WindowStatus, evaluate_integration

DEFAULT = WindowPolicy.default()
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)
HOUR = timedelta(hours=1)
NEW_YORK = ZoneInfo("America/New_York")


def a_dose(
    starts_at: datetime = START,
    ends_at: datetime | None = None,
    *,
    route: Route = Route.iv,
    status: SessionStatus = SessionStatus.scheduled,
    ended_at: datetime | None = None,
    dose_id: uuid.UUID | None = None,
) -> DoseFacts:
    return DoseFacts(
        id=dose_id or uuid.uuid4(),
        status=status,
        route=route,
        starts_at=starts_at,
        ends_at=ends_at if ends_at is not None else starts_at + timedelta(hours=2),
        ended_at=ended_at,
    )


def an_integration(
    starts_at: datetime,
    *,
    status: SessionStatus = SessionStatus.scheduled,
    linked_to: DoseFacts | uuid.UUID | None = None,
) -> IntegrationFacts:
    link = linked_to.id if isinstance(linked_to, DoseFacts) else linked_to
    return IntegrationFacts(
        id=uuid.uuid4(), status=status, starts_at=starts_at, ketamine_session_id=link
    )


def policy(opens_after_s: int = 0, **closes_after_h: float) -> WindowPolicy:
    closes = {route: hours * 3600 for route, hours in DEFAULT_CLOSES_AFTER_HOURS.items()}
    for name, hours in closes_after_h.items():
        closes[Route(name)] = round(hours * 3600)
    return WindowPolicy(opens_after_s=opens_after_s, closes_after_s=closes, closing_soon_s=86400)


def status_at(starts_at: datetime, dose: DoseFacts, rule: WindowPolicy = DEFAULT) -> WindowStatus:
    return evaluate_integration(an_integration(starts_at), [dose], rule).status
