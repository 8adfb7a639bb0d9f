"""Emitting events, in the caller's transaction, to whoever subscribed to them.

Domains build their own payloads and call `emit`; they never learn who listens. Listeners
(webhooks, today) are subscribed by the entry points at start, and `emit` writes the event and
the subscribers' delivery rows in the caller's transaction: a change, its audit rows and its
outbox rows commit together, and a rolled-back change emits nothing. Nothing is written when
nobody listens; emitting in a process that subscribed no listener at all is a programming error
and fails the transaction rather than losing the event. Payloads carry ids, kinds, times, window
bounds, statuses and versions — never names, contacts, doses, notes or diagnoses (minimum
necessary).
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Base, new_id
from app.events.catalogue import EventType
from app.events.models import WebhookEvent


class Subscriber(Protocol):
    """A listener to events, registered with `subscribe`."""

    async def deliveries(self, db: AsyncSession, event: WebhookEvent) -> Sequence[Base]:
        """The rows that carry this (not yet stored) event to its listeners; none if nobody
        listens. They are stored with the event, in the caller's transaction."""
        ...

    async def subscribed_types(
        self, db: AsyncSession, event_types: Collection[EventType]
    ) -> Mapping[uuid.UUID, Collection[EventType]]:
        """Per clinic, which of these event types someone listens to now."""
        ...


_subscribers: list[Subscriber] = []


class EventsNotWired(RuntimeError):
    """An event was emitted before any listener was subscribed (an entry point forgot to)."""


def _wired() -> list[Subscriber]:
    if not _subscribers:
        raise EventsNotWired("no event subscriber: the entry point must call events.subscribe")
    return _subscribers


def subscribe(subscriber: Subscriber) -> None:
    """Hear every event emitted from now on (once, however often this is called)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


async def emit(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    event_type: EventType,
    data: dict[str, Any],
    now: datetime,
) -> WebhookEvent | None:
    """Store an event and its deliveries to every subscriber; None when nobody listens."""
    event = WebhookEvent(
        id=new_id(), clinic_id=clinic_id, type=event_type.value, occurred_at=now, data=data
    )
    deliveries = [row for s in _wired() for row in await s.deliveries(db, event)]
    if not deliveries:
        return None
    db.add(event)
    await db.flush()  # no ORM relationship orders the inserts, so the event goes first
    db.add_all(deliveries)
    await db.flush()
    return event


async def subscribed_types(
    db: AsyncSession, event_types: Collection[EventType]
) -> dict[uuid.UUID, frozenset[EventType]]:
    """Per clinic, which of these event types at least one subscriber listens to now."""
    types: dict[uuid.UUID, set[EventType]] = defaultdict(set)
    for subscriber in _wired():
        for clinic_id, heard in (await subscriber.subscribed_types(db, event_types)).items():
            types[clinic_id].update(heard)
    return {clinic_id: frozenset(heard) for clinic_id, heard in types.items() if heard}
