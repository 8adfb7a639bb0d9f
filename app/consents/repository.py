"""SQL for consents: one of a client's, a page of them, or all of them for the in-force rule."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import PageParams, keyset
from app.consents import sql
from app.consents.models import Consent
from app.consents.rules import ConsentKind, ConsentStatus, ConsentTerms
from app.db import clinic_scoped, in_clinic
from app.db_direct import read_rows


@dataclass(frozen=True)
class ConsentFilters:
    kind: ConsentKind | None = None
    status: ConsentStatus | None = None
    in_force_at: datetime | None = None


async def get(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID, consent_id: uuid.UUID
) -> Consent | None:
    stmt = clinic_scoped(Consent, clinic_id).where(
        Consent.client_id == client_id, Consent.id == consent_id
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def by_id(db: AsyncSession, clinic_id: uuid.UUID, consent_id: uuid.UUID) -> Consent | None:
    """A consent of the clinic by its id alone (FHIR reads name no client)."""
    stmt = clinic_scoped(Consent, clinic_id).where(Consent.id == consent_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def list_page(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    client_id: uuid.UUID,
    filters: ConsentFilters,
    page: PageParams,
    now: datetime,
) -> Sequence[Consent]:
    """One page of the client's consents, in the order they were signed."""
    stmt = clinic_scoped(Consent, clinic_id).where(Consent.client_id == client_id)
    if filters.kind is not None:
        stmt = stmt.where(Consent.kind == filters.kind)
    if filters.status is not None:
        stmt = stmt.where(sql.status_is(filters.status, now))
    if filters.in_force_at is not None:
        stmt = stmt.where(sql.in_force_at(filters.in_force_at))
    stmt = keyset(stmt, [Consent.signed_at, Consent.id], page)
    return (await db.execute(stmt)).scalars().all()


async def for_client(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> Sequence[Consent]:
    """Every consent of the client, in the order they were signed (a client has a handful)."""
    parameters = {"clinic_id": clinic_id, "client_id": client_id}
    return (await db.execute(_FOR_CLIENT, parameters)).scalars().all()


async def terms_for_client(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> Sequence[ConsentTerms]:
    """What the consent rule reads of every consent of the client: the rows of `for_client`
    without the ORM (each row has the columns ConsentTerms names)."""
    parameters = {"clinic_id": clinic_id, "client_id": client_id}
    return cast(Sequence[ConsentTerms], await read_rows(db, _FOR_CLIENT, parameters))


# Built once, bound at execution: every clinical journey sends it.
_FOR_CLIENT = (
    select(Consent)
    .where(in_clinic(Consent, bindparam("clinic_id")), Consent.client_id == bindparam("client_id"))
    .order_by(Consent.signed_at, Consent.id)
)
