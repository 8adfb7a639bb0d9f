"""The window scanner: timer-driven window events, each emitted once per dose and window.

Nothing happens in a request when a dose's window opens, nears its close unbooked or closes
unbooked: time passes. The worker calls `scan_windows` on a timer and it emits, in the caller's
transaction:

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
that closed within `MISSED_LOOKBACK`. The scan reads `ix_sessions_clinic_kind_anchor` over the
doses whose window may still be open at now - MISSED_LOOKBACK (`window_may_still_be_open`, the
bound the worklist uses), so older history is never looked at.

Only clinics where someone listens to a window event type (an enabled, non-deleted webhook
endpoint subscribed to it) are scanned, and only those types are considered (marks are written
only for them), so an endpoint subscribing later still hears about windows that are current then.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.catalogue import EventType
from app.events.service import emit, subscribed_types
from app.windows import repository
from app.windows.policy import WindowPolicy
from app.windows.repository import ClientFacts, MarkKey
from app.windows.rules import (
    DoseFacts,
    IntegrationStatus,
    Window,
    dose_facts,
    dose_window,
    evaluate_dose,
)

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


async def _candidates(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    subscribed: frozenset[EventType],
    now: datetime,
) -> list[_Candidate]:
    """Anchoring doses with a subscribed event due now, in dose id order."""
    rows = await repository.doses_with_window_between(
        db, clinic_id, policy, opened_by=now, closing_after=now - MISSED_LOOKBACK
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


async def _facts(
    db: AsyncSession, clinic_id: uuid.UUID, client_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ClientFacts]:
    facts: dict[uuid.UUID, ClientFacts] = {}
    for chunk in repository.in_batches(sorted(set(client_ids))):
        facts.update(await repository.facts_for_clients(db, clinic_id, chunk))
    return facts


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
    marked = await repository.marks_of_doses(
        db, [c.facts.id for c in candidates], [e.value for e in WINDOW_EVENTS]
    )
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
            window = candidate.window
            if not await repository.claim_mark(
                db, clinic_id, dose.id, event_type.value, window, now
            ):
                continue  # already emitted, by an earlier scan or a concurrent one
            data = window_data(candidate, evaluation.status)
            if await emit(db, clinic_id, event_type, data, now) is not None:
                emitted += 1
    return emitted


async def scan_windows(db: AsyncSession, now: datetime) -> int:
    """Emit the window events due at `now`; return how many were emitted.

    Runs in the caller's unit of work (the worker's `worker_unit`), which commits. Safe to run
    repeatedly and from several workers at once: each event is emitted once per dose and window.
    """
    if now.tzinfo is None:
        raise ValueError("scan_windows needs an aware datetime")
    now = now.astimezone(UTC)
    subscriptions = await subscribed_types(db, WINDOW_EVENTS)
    clinic_ids = sorted(subscriptions)
    policies = await repository.policies_of_clinics(db, clinic_ids)
    emitted = 0
    for clinic_id in clinic_ids:
        policy = policies.get(clinic_id)
        if policy is not None:
            emitted += await _scan_clinic(db, clinic_id, policy, subscriptions[clinic_id], now)
    return emitted
