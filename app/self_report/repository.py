"""SQL for self-report links: a client's, one by id, one by its token's prefix (with its clinic
and client)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.models import Client
from app.clinics.models import Clinic
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped
from app.self_report.models import AssessmentRequest


async def get(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID, request_id: uuid.UUID
) -> AssessmentRequest | None:
    stmt = clinic_scoped(AssessmentRequest, clinic_id).where(
        AssessmentRequest.client_id == client_id, AssessmentRequest.id == request_id
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def list_page(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID, page: PageParams
) -> Sequence[AssessmentRequest]:
    """One page of the client's links, oldest first."""
    stmt = clinic_scoped(AssessmentRequest, clinic_id).where(
        AssessmentRequest.client_id == client_id
    )
    stmt = keyset(stmt, [AssessmentRequest.created_at, AssessmentRequest.id], page)
    return (await db.execute(stmt)).scalars().all()


@dataclass(frozen=True)
class LinkHolder:
    request: AssessmentRequest
    clinic: Clinic
    client: Client


async def by_prefix(db: AsyncSession, prefix: str, *, for_update: bool) -> LinkHolder | None:
    """The link with this prefix, its clinic and its client (one query); row-locked for a
    submission, so two submissions of one link cannot both record."""
    stmt = (
        select(AssessmentRequest, Clinic, Client)
        .join(Clinic, Clinic.id == AssessmentRequest.clinic_id)
        .join(
            Client,
            (Client.id == AssessmentRequest.client_id)
            & (Client.clinic_id == AssessmentRequest.clinic_id),
        )
        .where(AssessmentRequest.prefix == prefix)
    )
    if for_update:
        stmt = stmt.with_for_update(of=AssessmentRequest)
    row = (await db.execute(stmt)).first()
    return None if row is None else LinkHolder(*row)
