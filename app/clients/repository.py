"""SQL for clients; `stage` is computed in the same statement so it can filter and paginate."""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.clients.models import Client, ClientStage
from app.common.pagination import PageParams, keyset
from app.db import clinic_scoped, in_clinic, to_epoch_us
from app.db_direct import read_rows
from app.sessions.enums import Route, SessionStatus
from app.sessions.models import ClinicalSession
from app.windows import sql as window_sql
from app.windows.policy import WindowPolicy


@dataclass(frozen=True)
class ClientFilters:
    q: str | None = None
    stage: ClientStage | None = None
    primary_clinician_id: uuid.UUID | None = None
    include_archived: bool = False


def _stage(policy: WindowPolicy) -> ColumnElement[str]:
    return window_sql.client_stage(Client, policy)


def _with_stage(clinic_id: uuid.UUID, policy: WindowPolicy) -> Select[Client, str]:
    return clinic_scoped(Client, clinic_id).add_columns(_stage(policy).label("stage"))


def _at(now: datetime) -> dict[str, int]:
    """The execution parameters of a statement with the stage in it."""
    return {window_sql.STAGE_NOW_US: to_epoch_us(now)}


async def get(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    client_id: uuid.UUID,
    policy: WindowPolicy,
    now: datetime,
) -> tuple[Client, ClientStage] | None:
    parameters = {**_at(now), "clinic_id": clinic_id, "client_id": client_id}
    row = (await db.execute(_one_with_stage(policy), parameters)).first()
    return None if row is None else (row[0], ClientStage(row[1]))


def _one_with_stage(policy: WindowPolicy) -> Select[Client, str]:
    """One client with its stage, built once per policy (a journey sends it on every request)."""
    closes = tuple(sorted(policy.closes_after_s.items()))
    return _one_with_stage_for(policy.opens_after_s, closes, policy.closing_soon_s)


@functools.lru_cache(maxsize=256)
def _one_with_stage_for(
    opens_after_s: int, closes_after_s: tuple[tuple[Route, int], ...], closing_soon_s: int
) -> Select[Client, str]:
    policy = WindowPolicy(opens_after_s, dict(closes_after_s), closing_soon_s)
    return (
        select(Client)
        .where(in_clinic(Client, bindparam("clinic_id")))
        .add_columns(_stage(policy).label("stage"))
        .where(Client.id == bindparam("client_id"))
    )


async def client_row(db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID) -> Client | None:
    """The client alone, for callers that need no stage (it costs a subquery per row)."""
    parameters = {"clinic_id": clinic_id, "client_id": client_id}
    return (await db.execute(_CLIENT_ROW, parameters)).scalar_one_or_none()


_CLIENT_ROW = select(Client).where(
    in_clinic(Client, bindparam("clinic_id")), Client.id == bindparam("client_id")
)


async def client_exists(db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID) -> bool:
    """Whether the clinic has this client: its id alone, read without the ORM."""
    parameters = {"clinic_id": clinic_id, "client_id": client_id}
    return bool(await read_rows(db, _CLIENT_ID, parameters))


# Built once, bound at execution: every journey sends it.
_CLIENT_ID = select(Client.id).where(
    in_clinic(Client, bindparam("clinic_id")), Client.id == bindparam("client_id")
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_page(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    filters: ClientFilters,
    page: PageParams,
    policy: WindowPolicy,
    now: datetime,
) -> Sequence[tuple[Client, ClientStage]]:
    """Clients by name; the stage filter runs in SQL like the others."""
    stmt = _with_stage(clinic_id, policy)
    if not filters.include_archived:
        stmt = stmt.where(Client.archived.is_(False))
    if filters.primary_clinician_id is not None:
        stmt = stmt.where(Client.primary_clinician_id == filters.primary_clinician_id)
    if filters.q is not None:
        pattern = f"%{_escape_like(filters.q.lower())}%"
        stmt = stmt.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        Client.first_name,
                        Client.last_name,
                        Client.preferred_name,
                        Client.email,
                    )
                )
            )
        )
    if filters.stage is not None:
        stmt = stmt.where(_stage(policy) == filters.stage.value)
    stmt = keyset(stmt, [Client.last_name, Client.first_name, Client.id], page)
    rows = (await db.execute(stmt, _at(now))).all()
    return [(row[0], ClientStage(row[1])) for row in rows]


async def has_scheduled_sessions(db: AsyncSession, client: Client) -> bool:
    stmt = clinic_scoped(ClinicalSession, client.clinic_id).where(
        ClinicalSession.client_id == client.id,
        ClinicalSession.status == SessionStatus.scheduled,
    )
    return (await db.execute(stmt.limit(1))).first() is not None
