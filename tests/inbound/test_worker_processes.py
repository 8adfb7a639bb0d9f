"""Inbound bookings applied by real `kap-journey worker` processes on PostgreSQL.

Two workers share the queue; every delivery is applied exactly once and every reschedule
chain ends as one session, whichever worker took which half.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.inbound.models import InboundDelivery
from tests.inbound.payloads import calcom_body, calcom_headers
from tests.inbound.support import SECRETS, inbound_for
from tests.support.factories import Clinic
from tests.support.worker_processes import (  # noqa: F401 - fixtures shared with these tests
    Workers,
    app,
    clinic,
    database_url,
    eventually,
    workers,
)

CLIENTS = 8


def _signed(
    trigger: str, uid: str, email: str, start: datetime, **extra: Any
) -> tuple[bytes, dict[str, str]]:
    body = calcom_body(
        trigger,
        uid=uid,
        start=start,
        end=start + timedelta(hours=1),
        attendee_email=email,
        created_at=extra.pop("created_at"),
        **extra,
    )
    return body, calcom_headers(SECRETS["calcom"], body)


async def _unapplied(app: FastAPI) -> int:
    async with app.state.sessionmaker() as db:
        stmt = select(func.count()).where(InboundDelivery.status == "pending")
        return int((await db.execute(stmt)).scalar_one())


async def test_two_workers_apply_every_booking_once(
    app: FastAPI,
    clinic: Clinic,
    workers: Workers,
) -> None:
    inbound = await inbound_for(app, clinic, "calcom")
    now = datetime.now(UTC).replace(microsecond=0)
    first, moved = now + timedelta(days=2), now + timedelta(days=2, hours=4)
    clients = [await clinic.client(email=f"client{n}@example.org") for n in range(CLIENTS)]
    workers.start()
    workers.start()
    for n, client in enumerate(clients):
        created = _signed(
            "BOOKING_CREATED",
            f"a{n}",
            client["email"],
            first,
            created_at=now - timedelta(minutes=2),
        )
        rescheduled = _signed(
            "BOOKING_RESCHEDULED",
            f"b{n}",
            client["email"],
            moved,
            reschedule_uid=f"a{n}",
            created_at=now - timedelta(minutes=1),
        )
        # Every other pair arrives reversed, and each delivery twice.
        for delivery in (created, rescheduled) if n % 2 else (rescheduled, created):
            await inbound.accept(*delivery)
            await inbound.accept(*delivery)

    async def all_applied() -> bool:
        return await _unapplied(app) == 0

    await eventually(all_applied, "the workers to apply every delivery", workers)
    sessions = await inbound.sessions()
    assert len(sessions) == CLIENTS
    for client in clients:
        [session] = [s for s in sessions if s["client_id"] == client["id"]]
        assert session["status"] == "scheduled"
        assert session["starts_at"] == moved.isoformat().replace("+00:00", "Z")
    deliveries = await inbound.deliveries()
    assert len(deliveries) == 2 * CLIENTS
    assert {d["status"] for d in deliveries} == {"applied"}
    assert all(d["attempt_count"] == 1 for d in deliveries)
    async with app.state.sessionmaker() as db:
        stmt = select(AuditEvent.resource_id).where(
            AuditEvent.actor_role == "integration",
            AuditEvent.resource_type == "inbound_delivery",
        )
        applied = list((await db.execute(stmt)).scalars())
    # Exactly once: one audit row per delivery, from whichever worker applied it.
    assert sorted(applied) == sorted(d["id"] for d in deliveries)
