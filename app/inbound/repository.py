"""SQL for inbound scheduling: integrations, stored deliveries, booking chains, unmatched
bookings, and the clients, clinicians and sessions a booking is applied to."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.models import Client
from app.clinics.models import Clinic
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, insert_if_absent
from app.inbound.models import (
    BookingChain,
    InboundDelivery,
    ProviderBooking,
    SchedulingIntegration,
    UnmatchedBooking,
    UnmatchedStatus,
)
from app.sessions.models import ClinicalSession
from app.staff.models import Role, Staff

# --- Integrations -----------------------------------------------------------------------------


async def integration(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    integration_id: uuid.UUID,
    *,
    include_deleted: bool = False,
) -> SchedulingIntegration | None:
    stmt = clinic_scoped(SchedulingIntegration, clinic_id).where(
        SchedulingIntegration.id == integration_id
    )
    if not include_deleted:
        stmt = stmt.where(SchedulingIntegration.deleted_at.is_(None))
    return (await db.execute(stmt)).scalar_one_or_none()


async def integrations_page(
    db: AsyncSession, clinic_id: uuid.UUID, page: PageParams
) -> Sequence[SchedulingIntegration]:
    """A page of the clinic's live integrations, oldest first."""
    stmt = clinic_scoped(SchedulingIntegration, clinic_id).where(
        SchedulingIntegration.deleted_at.is_(None)
    )
    stmt = keyset(stmt, [SchedulingIntegration.created_at, SchedulingIntegration.id], page)
    return (await db.execute(stmt)).scalars().all()


async def integration_by_id(
    db: AsyncSession, integration_id: uuid.UUID
) -> SchedulingIntegration | None:
    """Any clinic's integration, deleted or not: a provider's delivery names no clinic."""
    return await db.get(SchedulingIntegration, integration_id)


async def integration_for_update(
    db: AsyncSession, integration_id: uuid.UUID
) -> SchedulingIntegration:
    """Processing of one integration's bookings is serialised on its row (PostgreSQL; SQLite
    serialises writers anyway), so two workers never file into the same chains at once."""
    stmt = (
        select(SchedulingIntegration)
        .where(SchedulingIntegration.id == integration_id)
        .with_for_update()
    )
    return (await db.execute(stmt)).scalar_one()


# --- Deliveries -------------------------------------------------------------------------------


async def deliveries_page(
    db: AsyncSession, integration: SchedulingIntegration, page: PageParams
) -> Sequence[InboundDelivery]:
    """A page of what the provider sent, oldest first."""
    stmt = clinic_scoped(InboundDelivery, integration.clinic_id).where(
        InboundDelivery.integration_id == integration.id
    )
    stmt = keyset(stmt, [InboundDelivery.received_at, InboundDelivery.id], page)
    return (await db.execute(stmt)).scalars().all()


async def stored_delivery(db: AsyncSession, values: dict[str, Any]) -> tuple[InboundDelivery, bool]:
    """The delivery stored under `values`' (integration, dedupe key), and whether this call
    stored it: a duplicate (even a concurrent one) finds the first one's row."""
    inserted = await insert_if_absent(db, InboundDelivery, values, ["integration_id", "dedupe_key"])
    stmt = select(InboundDelivery).where(
        InboundDelivery.integration_id == values["integration_id"],
        InboundDelivery.dedupe_key == values["dedupe_key"],
    )
    return (await db.execute(stmt)).scalar_one(), inserted


# --- Booking chains ---------------------------------------------------------------------------


async def booking(
    db: AsyncSession, integration_id: uuid.UUID, booking_id: str
) -> ProviderBooking | None:
    """The integration's booking with this provider id, if an event named it before."""
    stmt = select(ProviderBooking).where(
        ProviderBooking.integration_id == integration_id, ProviderBooking.booking_id == booking_id
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def chain(db: AsyncSession, chain_id: uuid.UUID, *, reload: bool = False) -> BookingChain:
    """The chain; `reload` reads it again over what this session holds (after bulk updates)."""
    return await db.get_one(BookingChain, chain_id, populate_existing=reload)


async def chain_or_none(db: AsyncSession, chain_id: uuid.UUID) -> BookingChain | None:
    """The chain, or None once it was joined into another (and deleted)."""
    return await db.get(BookingChain, chain_id)


async def move_to_chain(db: AsyncSession, source: BookingChain, target: BookingChain) -> None:
    """Re-file `source`'s bookings and unmatched bookings under `target`."""
    for model in (ProviderBooking, UnmatchedBooking):
        await db.execute(
            update(model)
            .where(model.chain_id == source.id)
            .values(chain_id=target.id)
            .execution_options(synchronize_session="fetch")
        )


async def chain_head(db: AsyncSession, chain: BookingChain) -> ProviderBooking | None:
    """The booking nothing replaced: it says what the appointment is now.

    A chain is a line, so there is one; should a provider ever fork it, the latest wins.
    """
    stmt = (
        select(ProviderBooking)
        .where(ProviderBooking.chain_id == chain.id, ProviderBooking.replaced_by.is_(None))
        .order_by(ProviderBooking.occurred_at.desc().nulls_last(), ProviderBooking.id)
    )
    return (await db.execute(stmt)).scalars().first()


async def has_cancelled_booking(db: AsyncSession, chain: BookingChain) -> bool:
    """Whether the provider cancelled any booking of the chain."""
    stmt = select(ProviderBooking.id).where(
        ProviderBooking.chain_id == chain.id, ProviderBooking.cancelled.is_(True)
    )
    return (await db.execute(stmt.limit(1))).first() is not None


# --- Unmatched bookings -----------------------------------------------------------------------


async def unmatched_booking(
    db: AsyncSession, clinic_id: uuid.UUID, unmatched_id: uuid.UUID
) -> UnmatchedBooking | None:
    stmt = clinic_scoped(UnmatchedBooking, clinic_id).where(UnmatchedBooking.id == unmatched_id)
    return (await db.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class UnmatchedFilters:
    status: UnmatchedStatus | None = None
    integration_id: uuid.UUID | None = None


async def unmatched_page(
    db: AsyncSession, clinic_id: uuid.UUID, filters: UnmatchedFilters, page: PageParams
) -> Sequence[UnmatchedBooking]:
    """A page of unmatched bookings, oldest first."""
    stmt = clinic_scoped(UnmatchedBooking, clinic_id)
    if filters.status is not None:
        stmt = stmt.where(UnmatchedBooking.status == filters.status.value)
    if filters.integration_id is not None:
        stmt = stmt.where(UnmatchedBooking.integration_id == filters.integration_id)
    stmt = keyset(stmt, [UnmatchedBooking.created_at, UnmatchedBooking.id], page)
    return (await db.execute(stmt)).scalars().all()


async def open_reviews(db: AsyncSession, chain: BookingChain) -> list[UnmatchedBooking]:
    """The chain's open unmatched bookings, oldest first (joined chains each brought one)."""
    stmt = select(UnmatchedBooking).where(
        UnmatchedBooking.chain_id == chain.id,
        UnmatchedBooking.status == UnmatchedStatus.open.value,
    )
    return list((await db.execute(stmt.order_by(UnmatchedBooking.created_at))).scalars())


async def was_dismissed(db: AsyncSession, chain: BookingChain) -> bool:
    """Whether staff dismissed an unmatched booking of the chain."""
    stmt = select(UnmatchedBooking.id).where(
        UnmatchedBooking.chain_id == chain.id,
        UnmatchedBooking.status == UnmatchedStatus.dismissed.value,
    )
    return (await db.execute(stmt.limit(1))).first() is not None


# --- What a booking is applied to -------------------------------------------------------------


async def clinic(db: AsyncSession, clinic_id: uuid.UUID) -> Clinic:
    return await db.get_one(Clinic, clinic_id)


async def session(db: AsyncSession, session_id: uuid.UUID) -> ClinicalSession:
    return await db.get_one(ClinicalSession, session_id)


async def has_client(db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID) -> bool:
    stmt = clinic_scoped(Client, clinic_id).where(Client.id == client_id)
    return (await db.execute(stmt)).scalar_one_or_none() is not None


async def client_ids_by_email(
    db: AsyncSession, clinic_id: uuid.UUID, email: str, *, limit: int
) -> Sequence[uuid.UUID]:
    """Up to `limit` clients of the clinic with this email, compared case-insensitively."""
    stmt = select(Client.id).where(
        Client.clinic_id == clinic_id, func.lower(Client.email) == email.lower()
    )
    return (await db.execute(stmt.limit(limit))).scalars().all()


def _clinicians(clinic_id: uuid.UUID) -> Select[uuid.UUID]:
    """Staff who can hold a session: active, and not schedulers."""
    return select(Staff.id).where(
        Staff.clinic_id == clinic_id, Staff.active.is_(True), Staff.role != Role.scheduler
    )


async def clinician_id_by_email(
    db: AsyncSession, clinic_id: uuid.UUID, email: str
) -> uuid.UUID | None:
    """The clinic's active clinician with this email, compared case-insensitively."""
    stmt = _clinicians(clinic_id).where(func.lower(Staff.email) == email.lower())
    found: uuid.UUID | None = (await db.execute(stmt)).scalar_one_or_none()
    return found


async def clinician_id(
    db: AsyncSession, clinic_id: uuid.UUID, staff_id: uuid.UUID
) -> uuid.UUID | None:
    """`staff_id` if that is one of the clinic's active clinicians."""
    stmt = _clinicians(clinic_id).where(Staff.id == staff_id)
    found: uuid.UUID | None = (await db.execute(stmt)).scalar_one_or_none()
    return found
