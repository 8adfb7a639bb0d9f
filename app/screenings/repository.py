"""SQL for screenings: one client's, one by id, and what the clearance rule needs per client."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, in_clinic
from app.db_direct import read_rows
from app.screenings.models import Screening
from app.screenings.rules import DECISION_RANK, Decision, ScreeningFact

_RANK = case(
    *((Screening.decision == decision, rank) for decision, rank in DECISION_RANK.items()),
    else_=0,
)
# `rules.precedence` as SQL, greatest first.
_PRECEDENCE_DESC = (
    Screening.screened_at.desc(),
    Screening.created_at.desc(),
    _RANK.desc(),
    Screening.id.desc(),
)


async def get(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID, screening_id: uuid.UUID
) -> Screening | None:
    stmt = clinic_scoped(Screening, clinic_id).where(
        Screening.client_id == client_id, Screening.id == screening_id
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def list_page(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID, page: PageParams
) -> Sequence[Screening]:
    """One page of the client's screenings, newest first (screened, then recorded)."""
    stmt = clinic_scoped(Screening, clinic_id).where(Screening.client_id == client_id)
    order = [Screening.screened_at, Screening.created_at, Screening.id]
    stmt = keyset(stmt, order, page, descending=True)
    return (await db.execute(stmt)).scalars().all()


async def governing_facts(
    db: AsyncSession, clinic_id: uuid.UUID, client_ids: Collection[uuid.UUID], at: datetime
) -> dict[uuid.UUID, list[ScreeningFact]]:
    """Per client, what `rules.clearance_at(..., at)` looks at: the latest decided and the
    latest pending screening with `screened_at <= at`, in one statement for any number of
    clients (at most two rows each)."""
    if not client_ids:
        return {}
    latest = func.row_number().over(
        partition_by=(Screening.client_id, Screening.decision == Decision.pending),
        order_by=_PRECEDENCE_DESC,
    )
    ranked = (
        select(
            Screening.id,
            Screening.client_id,
            Screening.screened_at,
            Screening.created_at,
            Screening.decision,
            Screening.valid_until,
            latest.label("latest"),
        )
        .where(
            in_clinic(Screening, clinic_id),
            Screening.client_id.in_(client_ids),
            Screening.screened_at <= at,
        )
        .subquery()
    )
    stmt = select(ranked).where(ranked.c.latest == 1)
    found: dict[uuid.UUID, list[ScreeningFact]] = {}
    for row in await db.execute(stmt):
        fact = ScreeningFact(
            row.id, row.screened_at, row.created_at, Decision(row.decision), row.valid_until
        )
        found.setdefault(row.client_id, []).append(fact)
    return found


async def client_facts(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> list[ScreeningFact]:
    """What the clearance rule needs of every screening of one client, for asking it about
    several instants (a journey's scheduled doses) with one statement."""
    parameters = {"clinic_id": clinic_id, "client_id": client_id}
    return [
        ScreeningFact(
            row.id, row.screened_at, row.created_at, Decision(row.decision), row.valid_until
        )
        for row in await read_rows(db, _CLIENT_FACTS, parameters)
    ]


# Built once, bound at execution: every clinical journey sends it.
_CLIENT_FACTS = select(
    Screening.id,
    Screening.screened_at,
    Screening.created_at,
    Screening.decision,
    Screening.valid_until,
).where(in_clinic(Screening, bindparam("clinic_id")), Screening.client_id == bindparam("client_id"))
