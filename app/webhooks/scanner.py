"""The window scanner: timer-driven window events, each emitted once per dose and window.

Nothing happens in a request when a dose's window opens, nears its close unbooked or closes
unbooked: time passes. The worker calls `scan_windows` on a timer and it emits, through the
outbox and in the caller's transaction:

- `integration_window.opened` while an anchoring dose's window is open (opens_at ≤ now ≤ closes_at);
- `integration_window.closing_unbooked` while the window is open, nothing is booked in it and
  now ≥ closes_at - the clinic's closing_soon (a closing_soon of 0 turns the alert off);
- `integration_window.missed` once the window closed with nothing booked in it, for windows that
  closed at most `MISSED_LOOKBACK` ago.

The window and the booking status come from the rule in `app.windows` (evaluated from stored facts,
so reschedules, completions, cancellations and policy changes are seen at once); this module only
decides which moments deserve an event.

Exactly once: before emitting, the scanner inserts a `WindowEventMark` (dose, event type, window
bounds) with INSERT ... ON CONFLICT DO NOTHING and emits only when its row went in. A window is
identified by its bounds, so a moved window (a reschedule, a recorded `ended_at`, a new
closes-after policy) gets its own events. On PostgreSQL a second scanner inserting the same mark
waits for the first one's transaction and then does nothing (or proceeds if it rolled back); marks
are claimed in one global order (clinic, dose, event type) so racing scanners cannot deadlock.
On SQLite the caller's write transaction (BEGIN IMMEDIATE) serialises scanners.

Bounds: a first run (or a run after an outage) does not replay history. `opened` and
`closing_unbooked` are only emitted while the window is still open, and `missed` only for windows
that closed within `MISSED_LOOKBACK`. The scan reads `ix_sessions_clinic_kind_starts` over the
starts_at range that can hold such windows: T(K) lies in (starts_at, starts_at + 12 h] because a
session and its recorded end stay within 12 h of its start, so a window that opened by now started
before now, and one closing after now - MISSED_LOOKBACK started after now - MISSED_LOOKBACK -
the longest closes-after - 12 h.

Only clinics with an enabled, non-deleted endpoint subscribed to a window event type are scanned,
and only the subscribed types are considered (marks are written only for those), so an endpoint
subscribing later still hears about windows that are current then.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinics.models import Clinic
from app.db import in_clinic, insert_if_absent, new_id, to_epoch_us
from app.events.catalogue import EventType
from app.events.service import emit
from app.sessions.enums import ANCHORING_STATUSES, SessionKind
from app.sessions.models import ClinicalSession
from app.sessions.schemas import MAX_SESSION_LENGTH
from app.webhooks.models import WebhookEndpoint, WindowEventMark
from app.windows.policy import WindowPolicy
from app.windows.repository import ClientFacts, facts_for_clients
from app.windows.rules import (
    DoseFacts,
    IntegrationStatus,
    Window,
    dose_facts,
    dose_window,
    evaluate_dose,
)
from app.windows.sql import window_bounds_us

WINDOW_EVENTS: tuple[EventType, ...] = (
    EventType.window_opened,
    EventType.window_closing_unbooked,
    EventType.window_missed,
)
"""The scanner's event types, in the order their marks are claimed."""

REQUIRED_STATUS: dict[EventType, IntegrationStatus | None] = {
    EventType.window_opened: None,
    EventType.window_closing_unbooked: IntegrationStatus.unbooked,
    EventType.window_missed: IntegrationStatus.missed,
}
"""The dose's integration status an event needs when it is due (None: any)."""

MISSED_LOOKBACK = timedelta(days=7)
"""`missed` is emitted for windows that closed at most this long ago, never for older ones."""

BATCH = 500
"""Ids per IN (...) list."""

T = TypeVar("T")
MarkKey = tuple[uuid.UUID, str, datetime, datetime]


@dataclass(frozen=True)
class _Candidate:
    """An anchoring dose whose window has at least one subscribed event due now."""

    facts: DoseFacts
    window: Window
    client_id: uuid.UUID
    clinician_id: uuid.UUID
    version: int
    due: tuple[EventType, ...]

    def unmarked(self, marked: set[MarkKey]) -> tuple[EventType, ...]:
        """The due events not yet claimed for this window."""
        bounds = (self.window.opens_at, self.window.closes_at)
        return tuple(e for e in self.due if (self.facts.id, e.value, *bounds) not in marked)


def _chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _utc_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def due_events(window: Window, policy: WindowPolicy, now: datetime) -> tuple[EventType, ...]:
    """The window events whose moment has come, before looking at what is booked."""
    if window.opens_at <= now <= window.closes_at:
        due = [EventType.window_opened]
        soon = policy.closing_soon_s
        if soon > 0 and now >= window.closes_at - timedelta(seconds=soon):
            due.append(EventType.window_closing_unbooked)
        return tuple(due)
    if window.closes_at < now and now - window.closes_at <= MISSED_LOOKBACK:
        return (EventType.window_missed,)
    return ()


def window_data(candidate: _Candidate, status: IntegrationStatus) -> dict[str, Any]:
    """The payload: ids, route, window bounds and status — no names, contacts, doses or notes."""
    return {
        "dose_id": str(candidate.facts.id),
        "client_id": str(candidate.client_id),
        "clinician_id": str(candidate.clinician_id),
        "route": candidate.facts.route.value,
        "window_opens_at": _utc_z(candidate.window.opens_at),
        "window_closes_at": _utc_z(candidate.window.closes_at),
        "integration_status": status.value,
        "version": candidate.version,
    }


async def _subscriptions(db: AsyncSession) -> dict[uuid.UUID, frozenset[EventType]]:
    """Per clinic, the window event types at least one live endpoint subscribes to."""
    rows = await db.execute(
        select(WebhookEndpoint.clinic_id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.enabled.is_(True), WebhookEndpoint.deleted_at.is_(None)
        )
    )
    subscribed: dict[uuid.UUID, set[EventType]] = defaultdict(set)
    for row in rows:
        types = set(row.event_types or ())
        subscribed[row.clinic_id].update(event for event in WINDOW_EVENTS if event.value in types)
    return {clinic_id: frozenset(types) for clinic_id, types in subscribed.items() if types}


async def _policies(
    db: AsyncSession, clinic_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, WindowPolicy]:
    policies: dict[uuid.UUID, WindowPolicy] = {}
    for chunk in _chunks(clinic_ids):
        query = select(Clinic).where(Clinic.id.in_(chunk))
        for clinic in await db.scalars(query.execution_options(populate_existing=True)):
            policies[clinic.id] = WindowPolicy.from_clinic(clinic)
    return policies


async def _candidates(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    subscribed: frozenset[EventType],
    now: datetime,
) -> list[_Candidate]:
    """Anchoring doses with a subscribed event due now, in dose id order."""
    s = ClinicalSession
    longest = max(timedelta(seconds=seconds) for seconds in policy.closes_after_s.values())
    horizon = now - MISSED_LOOKBACK
    opens_us, closes_us = window_bounds_us(s, policy)
    rows = await db.execute(
        select(
            s.id,
            s.client_id,
            s.clinician_id,
            s.status,
            s.route,
            s.starts_at,
            s.ends_at,
            s.ended_at,
            s.version,
        )
        .where(
            in_clinic(s, clinic_id),
            s.kind == SessionKind.ketamine,
            s.starts_at >= horizon - longest - MAX_SESSION_LENGTH,
            s.starts_at <= now,
            s.status.in_(ANCHORING_STATUSES),
            opens_us <= to_epoch_us(now),
            closes_us >= to_epoch_us(horizon),
        )
        .order_by(s.id)
    )
    found: list[_Candidate] = []
    for row in rows:
        facts = dose_facts(row)
        window = dose_window(facts, policy)
        due = tuple(event for event in due_events(window, policy, now) if event in subscribed)
        if due:
            found.append(
                _Candidate(facts, window, row.client_id, row.clinician_id, row.version, due)
            )
    return found


async def _marked(db: AsyncSession, dose_ids: Sequence[uuid.UUID]) -> set[MarkKey]:
    """The marks already claimed for these doses (any window)."""
    m = WindowEventMark
    marked: set[MarkKey] = set()
    for chunk in _chunks(dose_ids):
        rows = await db.execute(
            select(m.dose_id, m.event_type, m.window_opens_at, m.window_closes_at).where(
                m.dose_id.in_(chunk), m.event_type.in_([e.value for e in WINDOW_EVENTS])
            )
        )
        marked.update(
            (r.dose_id, r.event_type, r.window_opens_at, r.window_closes_at) for r in rows
        )
    return marked


async def _facts(
    db: AsyncSession, clinic_id: uuid.UUID, client_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ClientFacts]:
    facts: dict[uuid.UUID, ClientFacts] = {}
    for chunk in _chunks(sorted(set(client_ids))):
        facts.update(await facts_for_clients(db, clinic_id, chunk))
    return facts


async def _claim(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    dose_id: uuid.UUID,
    event_type: EventType,
    window: Window,
    now: datetime,
) -> bool:
    """Insert the mark unless it exists; True when this transaction's row went in."""
    return await insert_if_absent(
        db,
        WindowEventMark,
        {
            "id": new_id(),
            "clinic_id": clinic_id,
            "dose_id": dose_id,
            "event_type": event_type.value,
            "window_opens_at": window.opens_at,
            "window_closes_at": window.closes_at,
            "emitted_at": now,
        },
        ["dose_id", "event_type", "window_opens_at", "window_closes_at"],
    )


async def _scan_clinic(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    subscribed: frozenset[EventType],
    now: datetime,
) -> int:
    candidates = await _candidates(db, clinic_id, policy, subscribed, now)
    if not candidates:
        return 0
    marked = await _marked(db, [c.facts.id for c in candidates])
    pending = [replace(c, due=c.unmarked(marked)) for c in candidates if c.unmarked(marked)]
    if not pending:
        return 0
    facts = await _facts(db, clinic_id, (c.client_id for c in pending))
    emitted = 0
    for candidate in pending:
        client = facts.get(candidate.client_id, ClientFacts())
        dose = next((d for d in client.doses if d.id == candidate.facts.id), None)
        if dose is None or dose != candidate.facts:
            continue  # changed since the candidate query; the next scan sees it afresh
        evaluation = evaluate_dose(dose, client.integrations, client.doses, policy, now)
        for event_type in candidate.due:
            required = REQUIRED_STATUS[event_type]
            if required is not None and evaluation.status is not required:
                continue
            if not await _claim(db, clinic_id, dose.id, event_type, candidate.window, now):
                continue  # already emitted, by an earlier scan or a concurrent one
            data = window_data(candidate, evaluation.status)
            if await emit(db, clinic_id, event_type, data, now) is not None:
                emitted += 1
    return emitted


async def scan_windows(db: AsyncSession, now: datetime) -> int:
    """Emit the window events due at `now`; return how many were emitted.

    Runs in the caller's transaction (begun with `begin_write`); the caller commits. Safe to run
    repeatedly and from several workers at once: each event is emitted once per dose and window.
    """
    if now.tzinfo is None:
        raise ValueError("scan_windows needs an aware datetime")
    now = now.astimezone(UTC)
    subscriptions = await _subscriptions(db)
    clinic_ids = sorted(subscriptions)
    policies = await _policies(db, clinic_ids)
    emitted = 0
    for clinic_id in clinic_ids:
        policy = policies.get(clinic_id)
        if policy is not None:
            emitted += await _scan_clinic(db, clinic_id, policy, subscriptions[clinic_id], now)
    return emitted
