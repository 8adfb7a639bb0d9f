"""Events without webhooks: emit asks its subscribers, never drops an event silently.

The fan-out to webhook endpoints, and that it commits with the change, is tested end to end in
tests/webhooks and tests/windows; these tests pin what events promise on their own.
"""

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Base
from app.events import service
from app.events.catalogue import EventType
from app.events.models import WebhookEvent
from app.events.service import EventsNotWired, emit, subscribe, subscribed_types

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
CLINIC, OTHER = uuid.uuid4(), uuid.uuid4()


class Recorder:
    """Stands in for the session: remembers what was added, in order."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, row: Any) -> None:
        self.added.append(row)

    def add_all(self, rows: Collection[Any]) -> None:
        self.added.extend(rows)

    async def flush(self) -> None:
        return None


class Listener:
    """A subscriber that hears some types in some clinics; its delivery rows are markers."""

    def __init__(self, hears: dict[uuid.UUID, set[EventType]]) -> None:
        self.hears = hears

    async def deliveries(self, db: AsyncSession, event: WebhookEvent) -> Sequence[Base]:
        heard = EventType(event.type) in self.hears.get(event.clinic_id, set())
        return [cast(Base, ("delivery", event.id))] if heard else []

    async def subscribed_types(
        self, db: AsyncSession, event_types: Collection[EventType]
    ) -> dict[uuid.UUID, set[EventType]]:
        return {clinic: types & set(event_types) for clinic, types in self.hears.items()}


@pytest.fixture
def listeners(monkeypatch: pytest.MonkeyPatch) -> list[Listener]:
    """No subscriber but the ones a test adds (the app's own are put back afterwards)."""
    monkeypatch.setattr(service, "_subscribers", [])
    return []


def _db(recorder: Recorder) -> AsyncSession:
    return cast(AsyncSession, recorder)


async def test_emitting_with_no_subscriber_fails_instead_of_dropping_the_event(
    listeners: list[Listener],
) -> None:
    with pytest.raises(EventsNotWired):
        await emit(_db(Recorder()), CLINIC, EventType.client_created, {}, NOW)
    with pytest.raises(EventsNotWired):
        await subscribed_types(_db(Recorder()), [EventType.window_opened])


async def test_nothing_is_stored_when_nobody_listens(listeners: list[Listener]) -> None:
    subscribe(Listener({OTHER: {EventType.client_created}}))
    recorder = Recorder()
    assert await emit(_db(recorder), CLINIC, EventType.client_created, {}, NOW) is None
    assert recorder.added == []


async def test_the_event_is_stored_before_its_deliveries(listeners: list[Listener]) -> None:
    listener = Listener({CLINIC: {EventType.client_created}})
    subscribe(listener)
    subscribe(listener)  # subscribing twice delivers once
    recorder = Recorder()
    data = {"client_id": "c"}
    event = await emit(_db(recorder), CLINIC, EventType.client_created, data, NOW)
    assert event is not None
    assert (event.clinic_id, event.type, event.occurred_at, event.data) == (
        CLINIC,
        "client.created",
        NOW,
        data,
    )
    assert recorder.added == [event, ("delivery", event.id)]


async def test_subscribed_types_merge_subscribers_per_clinic(listeners: list[Listener]) -> None:
    subscribe(Listener({CLINIC: {EventType.window_opened}, OTHER: {EventType.client_created}}))
    subscribe(Listener({CLINIC: {EventType.window_missed}}))
    found = await subscribed_types(
        _db(Recorder()), [EventType.window_opened, EventType.window_missed]
    )
    assert found == {CLINIC: frozenset({EventType.window_opened, EventType.window_missed})}
