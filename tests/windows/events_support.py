"""Helpers of the window scanner tests: endpoints, scans and what they emitted (`Hooks`).

Journeys are booked through the API; the scanner runs in its own transaction at chosen instants
(never by sleeping). The database is shared by the whole suite, so assertions look at a
test's clinics, and the scanner's return value is checked against the suite-wide row count.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.db import begin_write
from app.events.catalogue import EventType
from app.events.models import WebhookEvent
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.windows.events import WINDOW_EVENTS, scan_windows
from app.windows.models import WindowEventMark
from tests.support.factories import T0, Clinic
from tests.windows.support import DAY, HOUR, at

OPENED = EventType.window_opened.value
CLOSING = EventType.window_closing_unbooked.value
MISSED = EventType.window_missed.value
WINDOW_TYPES = [event.value for event in WINDOW_EVENTS]
PAYLOAD_KEYS = {
    "dose_id",
    "client_id",
    "clinician_id",
    "route",
    "window_opens_at",
    "window_closes_at",
    "integration_status",
    "version",
}


@dataclass
class Emitted:
    type: str
    data: dict[str, Any]
    occurred_at: datetime
    endpoint_ids: set[uuid.UUID]
    deliveries: list[WebhookDelivery]


@dataclass
class Hooks:
    """Endpoints written straight into the database, scans, and what they emitted."""

    app: FastAPI
    clinic_ids: set[uuid.UUID] = field(default_factory=set)

    async def subscribe(
        self,
        clinic: Clinic,
        event_types: Sequence[str] = tuple(WINDOW_TYPES),
        *,
        enabled: bool = True,
        deleted: bool = False,
    ) -> uuid.UUID:
        clinic_id = uuid.UUID(clinic.id)
        self.clinic_ids.add(clinic_id)
        endpoint = WebhookEndpoint(
            clinic_id=clinic_id,
            url="https://receiver.example/hooks",
            event_types=list(event_types),
            enabled=enabled,
            secret_ciphertext=b"x",
            deleted_at=T0 if deleted else None,
        )
        async with self.app.state.sessionmaker() as db:
            await begin_write(db)
            db.add(endpoint)
            await db.commit()
        return endpoint.id

    async def scan_once(self, now: datetime) -> int:
        async with self.app.state.sessionmaker() as db:
            await begin_write(db)
            emitted = await scan_windows(db, now)
            await db.commit()
        return emitted

    async def window_event_count(self) -> int:
        """Window events of every clinic in the database."""
        async with self.app.state.sessionmaker() as db:
            query = select(func.count()).where(WebhookEvent.type.in_(WINDOW_TYPES))
            return int((await db.execute(query)).scalar_one())

    async def scan(self, now: datetime) -> int:
        """One scan; its return value must be the number of window events it wrote."""
        before = await self.window_event_count()
        emitted = await self.scan_once(now)
        assert emitted == await self.window_event_count() - before
        return emitted

    async def events(self, clinic: Clinic) -> list[Emitted]:
        """The clinic's window events with their deliveries, in emission order."""
        clinic_id = uuid.UUID(clinic.id)
        async with self.app.state.sessionmaker() as db:
            events = (
                await db.scalars(
                    select(WebhookEvent).where(
                        WebhookEvent.clinic_id == clinic_id, WebhookEvent.type.in_(WINDOW_TYPES)
                    )
                )
            ).all()
            deliveries = (
                await db.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.clinic_id == clinic_id)
                )
            ).all()
        by_event: dict[uuid.UUID, list[WebhookDelivery]] = {}
        for delivery in deliveries:
            by_event.setdefault(delivery.event_id, []).append(delivery)
        found = [
            Emitted(
                type=event.type,
                data=event.data,
                occurred_at=event.occurred_at,
                endpoint_ids={d.endpoint_id for d in by_event.get(event.id, [])},
                deliveries=by_event.get(event.id, []),
            )
            for event in events
        ]
        found.sort(key=lambda e: (e.occurred_at, WINDOW_TYPES.index(e.type), e.data["dose_id"]))
        return found

    async def types(self, clinic: Clinic) -> list[str]:
        return [event.type for event in await self.events(clinic)]

    async def mark_count(self, clinic: Clinic) -> int:
        async with self.app.state.sessionmaker() as db:
            query = select(func.count()).where(WindowEventMark.clinic_id == uuid.UUID(clinic.id))
            return int((await db.execute(query)).scalar_one())

    async def tidy(self) -> None:
        """Leave nothing for tests that run dispatchers or scanners over the shared database."""
        if not self.clinic_ids:
            return
        async with self.app.state.sessionmaker() as db:
            await begin_write(db)
            await db.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.clinic_id.in_(self.clinic_ids))
                .values(enabled=False, deleted_at=T0)
            )
            await db.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.clinic_id.in_(self.clinic_ids),
                    WebhookDelivery.status == DeliveryStatus.pending.value,
                )
                .values(status=DeliveryStatus.failed.value, completed_at=T0)
            )
            await db.commit()


async def iv_dose(clinic: Clinic, starts_at: datetime = T0 + DAY, **extra: Any) -> dict[str, Any]:
    """A 2 h IV dose of a new, prepared client: its window is [ends_at, ends_at + 72 h]."""
    client = await clinic.prepared_client()
    return await clinic.dose(client["id"], starts_at, **extra)


def bounds(dose: dict[str, Any]) -> tuple[datetime, datetime]:
    ends = at(dose["ends_at"])
    return ends, ends + 72 * HOUR
