"""The neuroplasticity-window rule (docs/architecture.md, "The window rule") as pure functions.

Everything here works on plain values and aware UTC datetimes, so the rule can be tested to the
microsecond without a database. `app.windows.sql` is its twin for filtering in SQL; a property
test keeps the two in agreement.
"""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol

from app.sessions.enums import ANCHORING_STATUSES, Route, SessionStatus
from app.windows.policy import WindowPolicy


class WindowStatus(StrEnum):
    """Where an integration session falls relative to its anchoring dose's window."""

    no_ketamine_session = "no_ketamine_session"
    before_window = "before_window"
    in_window = "in_window"
    after_window = "after_window"


class IntegrationStatus(StrEnum):
    """Whether a dose's window has integration booked inside it."""

    not_applicable = "not_applicable"
    booked_in_window = "booked_in_window"
    unbooked = "unbooked"
    missed = "missed"


class DoseFacts(NamedTuple):
    """What the rule needs to know about a ketamine session. (Named tuples: a worklist builds
    hundreds of facts per request, and a tuple is built several times faster than a frozen
    dataclass.)"""

    id: uuid.UUID
    status: SessionStatus
    route: Route
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None

    @property
    def anchors(self) -> bool:
        return self.status in ANCHORING_STATUSES

    @property
    def anchor_time(self) -> datetime:
        """T(K): the recorded end when there is one, else the scheduled end, as a UTC instant.

        In UTC so that adding hours is elapsed time even when the input carries a zone with DST
        (aware datetimes sharing a ZoneInfo add and subtract in wall-clock time)."""
        anchor = self.ended_at if self.ended_at is not None else self.ends_at
        return anchor if anchor.tzinfo is UTC else anchor.astimezone(UTC)


class IntegrationFacts(NamedTuple):
    """What the rule needs to know about an integration session."""

    id: uuid.UUID
    status: SessionStatus
    starts_at: datetime
    ketamine_session_id: uuid.UUID | None = None


class DoseColumns(Protocol):
    """The columns a dose's facts are read from: a ClinicalSession, or a row selecting them."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def status(self) -> SessionStatus: ...
    @property
    def route(self) -> Route | None: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...


class IntegrationColumns(Protocol):
    """The columns an integration session's facts are read from."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def status(self) -> SessionStatus: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ketamine_session_id(self) -> uuid.UUID | None: ...


def dose_facts(dose: DoseColumns) -> DoseFacts:
    """The facts of a ketamine session, however it was loaded."""
    assert dose.route is not None  # every ketamine session has a route
    return DoseFacts(dose.id, dose.status, dose.route, dose.starts_at, dose.ends_at, dose.ended_at)


def integration_facts(integration: IntegrationColumns) -> IntegrationFacts:
    """The facts of an integration session, however it was loaded."""
    return IntegrationFacts(
        integration.id, integration.status, integration.starts_at, integration.ketamine_session_id
    )


class Window(NamedTuple):
    opens_at: datetime
    closes_at: datetime


class IntegrationWindow(NamedTuple):
    """I.window: where an integration session falls (docs/architecture.md). (A named tuple,
    as the facts are: a worklist evaluates hundreds, and a frozen dataclass is built field by
    field through object.__setattr__.)"""

    status: WindowStatus
    ketamine_session_id: uuid.UUID | None = None
    linked: bool = False
    hours_after_dose: float | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None


@dataclass(frozen=True)
class DoseIntegration:
    """K.integration: whether a dose has integration booked in its window (docs/architecture.md)."""

    status: IntegrationStatus
    window_opens_at: datetime | None = None
    window_closes_at: datetime | None = None
    integration_session_ids: list[uuid.UUID] = field(default_factory=list)


def dose_window(dose: DoseFacts, policy: WindowPolicy) -> Window:
    """The window a dose opens, on absolute instants (DST cannot move it)."""
    anchor = dose.anchor_time
    return Window(
        opens_at=anchor + policy.opens_after,
        closes_at=anchor + policy.closes_after(dose.route),
    )


def find_anchor(
    integration: IntegrationFacts, doses: Iterable[DoseFacts]
) -> tuple[DoseFacts | None, bool]:
    """The dose an integration session is measured against, and whether it was linked: the
    linked dose if it anchors, else the latest anchoring dose starting no later (in one pass)."""
    linked_id, starts_at = integration.ketamine_session_id, integration.starts_at
    latest: DoseFacts | None = None
    for dose in doses:
        if dose.status not in ANCHORING_STATUSES:
            continue
        if dose.id == linked_id:
            return dose, True
        if dose.starts_at <= starts_at and (
            latest is None or (dose.starts_at, dose.id) > (latest.starts_at, latest.id)
        ):
            latest = dose
    return latest, False


def may_anchor(integration: IntegrationFacts, dose: DoseFacts) -> bool:
    """Whether `dose` can be the anchor `find_anchor` gives `integration`: it is linked to it,
    or it starts no later than the integration (an inferred anchor is the latest dose that
    does). Everything else is measured against another dose, so it need not be evaluated."""
    return integration.ketamine_session_id == dose.id or dose.starts_at <= integration.starts_at


_HOUR = timedelta(hours=1)


def _time_order(integration: IntegrationFacts) -> tuple[datetime, uuid.UUID]:
    return integration.starts_at, integration.id


def _hours(delta: timedelta) -> float:
    hours = round(delta / _HOUR, 2)
    return hours if hours != 0 else 0.0  # never -0.0 (a moment before T(K) rounds to zero)


def evaluate_integration(
    integration: IntegrationFacts, doses: Iterable[DoseFacts], policy: WindowPolicy
) -> IntegrationWindow:
    """I.window: which dose anchors it and whether it starts inside that dose's window."""
    anchor, linked = find_anchor(integration, doses)
    if anchor is None:
        return IntegrationWindow(status=WindowStatus.no_ketamine_session)
    window = dose_window(anchor, policy)
    if integration.starts_at < window.opens_at:
        status = WindowStatus.before_window
    elif integration.starts_at <= window.closes_at:
        status = WindowStatus.in_window
    else:
        status = WindowStatus.after_window
    return IntegrationWindow(
        status=status,
        ketamine_session_id=anchor.id,
        linked=linked,
        hours_after_dose=_hours(integration.starts_at - anchor.anchor_time),
        opens_at=window.opens_at,
        closes_at=window.closes_at,
    )


def evaluate_dose(
    dose: DoseFacts,
    integrations: Sequence[IntegrationFacts],
    doses: Sequence[DoseFacts],
    policy: WindowPolicy,
    now: datetime,
    anchors: Mapping[uuid.UUID, uuid.UUID | None] | None = None,
) -> DoseIntegration:
    """K.integration: is integration booked inside this dose's window, still open, or missed.

    `integrations` and `doses` are the same client's sessions, so inferred anchors can be found.
    `anchors`, when given, holds the id of each integration's anchoring dose
    (`integration_anchors`), so a page of doses finds each integration's anchor once rather
    than once per dose. An integration anchored here is in the window when it starts inside
    this dose's own window: what `evaluate_integration` finds for it, without its hours.
    The integrations it lists are in time order (`starts_at`, then id), as a journey lists them.
    """
    if not dose.anchors:
        return DoseIntegration(status=IntegrationStatus.not_applicable)
    window = dose_window(dose, policy)
    anchored: list[IntegrationFacts] = []
    booked = False
    for integration in integrations:
        if integration.status not in ANCHORING_STATUSES or not may_anchor(integration, dose):
            continue
        if anchors is not None:
            anchor_id = anchors[integration.id]
        else:
            anchor, _ = find_anchor(integration, doses)
            anchor_id = anchor.id if anchor is not None else None
        if anchor_id == dose.id:
            anchored.append(integration)
            booked = booked or window.opens_at <= integration.starts_at <= window.closes_at
    if len(anchored) > 1:  # in time order, whatever order the facts came in (a page's do not)
        anchored.sort(key=_time_order)
    if booked:
        status = IntegrationStatus.booked_in_window
    elif now <= window.closes_at:
        status = IntegrationStatus.unbooked
    else:
        status = IntegrationStatus.missed
    return DoseIntegration(
        status=status,
        window_opens_at=window.opens_at,
        window_closes_at=window.closes_at,
        integration_session_ids=[integration.id for integration in anchored],
    )


def integration_windows(
    integrations: Iterable[IntegrationFacts], doses: Sequence[DoseFacts], policy: WindowPolicy
) -> dict[uuid.UUID, IntegrationWindow]:
    """I.window of each integration that can count for a dose, computed once for all doses
    (a journey shows every one of them)."""
    return {
        integration.id: evaluate_integration(integration, doses, policy)
        for integration in integrations
        if integration.status in ANCHORING_STATUSES
    }


def integration_anchors(
    integrations: Iterable[IntegrationFacts],
    doses: Sequence[DoseFacts],
    for_doses: Sequence[DoseFacts],
) -> dict[uuid.UUID, uuid.UUID | None]:
    """The anchoring dose's id of each integration that may anchor one of `for_doses` (what
    `evaluate_dose` asks of a worklist's doses: a client's older history is not looked at).

    `may_anchor` for any of them, asked once: linked to one, or starting no earlier than the
    earliest of them."""
    if not for_doses:
        return {}
    ids = {dose.id for dose in for_doses}
    earliest = min(dose.starts_at for dose in for_doses)
    found: dict[uuid.UUID, uuid.UUID | None] = {}
    for integration in integrations:
        if integration.status not in ANCHORING_STATUSES:
            continue
        if integration.ketamine_session_id in ids or earliest <= integration.starts_at:
            anchor, _ = find_anchor(integration, doses)
            found[integration.id] = anchor.id if anchor is not None else None
    return found


def client_stage(
    doses: Sequence[DoseFacts], any_anchoring: bool, policy: WindowPolicy, now: datetime
) -> str:
    """The client's journey stage from all its sessions (the Python twin of
    `app.windows.sql.client_stage`): `any_anchoring` says whether any session of any kind is
    scheduled or completed, `doses` are all its ketamine sessions."""
    if not any_anchoring:
        return "intake"
    completed = [dose for dose in doses if dose.status is SessionStatus.completed]
    if not completed:
        return "preparation"
    latest = max(completed, key=lambda dose: (dose.starts_at, dose.id))
    scheduled = any(dose.status is SessionStatus.scheduled for dose in doses)
    if scheduled or dose_window(latest, policy).closes_at >= now:
        return "active_treatment"
    return "maintenance"
