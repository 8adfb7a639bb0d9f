"""SQL for the integration worklist: both lists are filtered and ordered in the database."""

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    false,
    func,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.clients.models import Client
from app.db import from_epoch_us, in_clinic, to_epoch_us
from app.db_direct import execute
from app.db_sets import among
from app.sessions.enums import Route, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.sessions.repository import read_sessions
from app.windows import sql as window_sql
from app.windows.policy import WindowPolicy
from app.windows.rules import WindowStatus

Columns = TypeVarTuple("Columns")

# Made once: aliasing copies every column of the table (see app/windows/sql.py).
_ANCHOR = aliased(ClinicalSession)


def _not_archived() -> ColumnElement[bool]:
    # A correlated test per session kept, not a join: the planner cannot foresee how few rows
    # the window rule keeps, and at 10k sessions it chose to compare every kept dose with every
    # client of the clinic (a nested loop with a join filter, 140,000 comparisons). Asked as
    # "not among the clinic's archived clients", PostgreSQL reads those once a statement from
    # `ix_clients_clinic_archived`, which holds only them, into a hashed set: some 160 at 1M
    # sessions, where every clinic's were 3,261.
    archived = select(Client.id).where(
        Client.clinic_id == bindparam("clinic_id"),
        Client.id == ClinicalSession.client_id,
        Client.archived,
    )
    return ~archived.exists()


def _by_clinician(stmt: Select[*Columns], by_clinician: bool) -> Select[*Columns]:
    if by_clinician:
        stmt = stmt.where(ClinicalSession.clinician_id == bindparam("clinician_id"))
    return stmt


# PostgreSQL plans a prepared statement anew for each execution's values while it judges that
# cheaper than one plan for every value (plan_cache_mode `auto`). For both pages at 1M sessions
# it does: the one plan's estimate of `anchor >= :open_since`, a third of the clinic's doses,
# looks costlier than planning. Planning them took ~1.9 ms of PostgreSQL's CPU a worklist, at
# 1M only (at 10k it already keeps one plan), and saved no execution time. The setting covers
# the rest of the worklist's transaction: the window facts (whose generic plan PostgreSQL
# chose anyway) and the audit rows too. The plan tests check the plans kept: each page read
# through its indexes (tests/scale/test_query_plans.py). Other reads keep PostgreSQL's own
# choice, which is right for the list filters (docs/decisions.md).
ONE_PLAN_PER_STATEMENT = text("SET LOCAL plan_cache_mode = force_generic_plan")


async def use_generic_plans(db: AsyncSession) -> None:
    """On PostgreSQL, every statement the transaction sends from here on runs on its generic
    plan, made once per connection and kept for every value; the setting ends with the
    transaction."""
    if db.get_bind().dialect.name == "postgresql":
        await execute(db, ONE_PLAN_PER_STATEMENT, {})


async def unbooked_doses(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    now: datetime,
    clinician_id: uuid.UUID | None,
    limit: int,
) -> Sequence[ClinicalSession]:
    """Doses whose window is still open (or not yet open) with nothing booked in it."""
    stmt = _unbooked(_policy_key(policy), clinician_id is not None)
    parameters = {
        "clinic_id": clinic_id,
        "open_since": now - window_sql.longest_window(policy),
        "now_us": to_epoch_us(now),
        "limit": limit,
    }
    if clinician_id is not None:
        parameters["clinician_id"] = clinician_id
    return await read_sessions(db, stmt, parameters)


async def outside_window_sessions(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    clinician_id: uuid.UUID | None,
    limit: int,
) -> Sequence[ClinicalSession]:
    """Scheduled integration sessions that fall before, after or without a window."""
    stmt = _outside_window(_policy_key(policy), clinician_id is not None)
    parameters: dict[str, object] = {"clinic_id": clinic_id, "limit": limit}
    if clinician_id is not None:
        parameters["clinician_id"] = clinician_id
    return await read_sessions(db, stmt, parameters)


# Both statements are built once per clinic policy (and with or without a clinician), every
# value bound at execution: building the window rule's expressions and their cache keys cost
# more CPU than PostgreSQL spent running them (docs/performance.md).
PolicyKey = tuple[int, tuple[tuple[Route, int], ...], int]


def _policy_key(policy: WindowPolicy) -> PolicyKey:
    return policy.opens_after_s, tuple(sorted(policy.closes_after_s.items())), policy.closing_soon_s


def _policy(key: PolicyKey) -> WindowPolicy:
    return WindowPolicy(key[0], dict(key[1]), key[2])


@functools.lru_cache(maxsize=256)
def _unbooked(key: PolicyKey, by_clinician: bool) -> Select[ClinicalSession]:
    """The unbooked page, found in two steps so that the database judges the doses near the
    page, not every dose whose window may still be open (most are booked, or months ahead).

    The page is ordered by closing time, T(K) plus the route's offset, which no index can hand
    over in order. But any `limit` unbooked doses bound the page: its last closes no later than
    the latest of theirs, B. Step one takes the first `limit` unbooked doses in T(K) order
    (indexed, stopping there). Every other dose on the page comes after them in that order,
    closes by B, and so has T(K) <= B - the shortest offset (an index bound): step two. The
    page is the first `limit` of both steps in closing order.
    """
    s, policy = ClinicalSession, _policy(key)
    _, closes = window_sql.window_bounds_us(s, policy)
    anchor = window_sql.anchor_time(s)
    limit = bindparam("limit", type_=Integer())
    first = (
        _unbooked_doses(policy, by_clinician)
        .add_columns(anchor.label("anchor"), closes.label("closes"))
        # window_may_still_be_open, with now - the longest window bound at execution
        .where(anchor >= bindparam("open_since", type_=DateTime(timezone=True)))
        .order_by(anchor, s.id)
        .limit(limit)
        .cte("first_unbooked")
    )
    bound = select(func.max(first.c.closes)).scalar_subquery()
    shortest_us = min(policy.closes_after_s.values()) * window_sql.US_PER_S
    rest = _unbooked_doses(policy, by_clinician).where(
        anchor >= select(func.max(first.c.anchor)).scalar_subquery(),
        anchor <= from_epoch_us(bound - literal(shortest_us, BigInteger())),
        s.id.not_in(select(first.c.id)),
        closes <= bound,
    )
    page = union_all(select(first.c.id), rest)
    return select(s).where(s.id.in_(page)).order_by(closes, s.id).limit(limit)


def _unbooked_doses(policy: WindowPolicy, by_clinician: bool) -> Select[uuid.UUID]:
    """The ids of the clinic's unbooked doses (of its clients not archived)."""
    s = ClinicalSession
    unbooked = window_sql.dose_unbooked(s, policy, bindparam("now_us", type_=BigInteger()))
    stmt = select(s.id).where(
        in_clinic(s, bindparam("clinic_id")),
        s.kind == SessionKind.ketamine,
        # The flag only for the doses the rule keeps (about one in five): as two filters, the
        # planner ran the cheaper lookup first, for every candidate dose (docs/performance.md).
        case((unbooked, _not_archived()), else_=false()),
    )
    return _by_clinician(stmt, by_clinician)


@functools.lru_cache(maxsize=256)
def _outside_window(key: PolicyKey, by_clinician: bool) -> Select[ClinicalSession]:
    """The outside-window page, judged from indexes and shown from the heap.

    Most scheduled integrations are in their window: the page judges some 440 to keep 50. It
    judges each from the scheduled integrations' partial index (in start order, stopping at the
    page) and its anchoring dose from the doses' one, both read alone; only the rows it keeps
    are then read whole, by primary key. The kinds and status are written into the text, so
    that the generic plan the worklist runs on may use the partial indexes (app/sessions/models).
    """
    s, anchor = ClinicalSession, _ANCHOR
    status = window_sql.integration_window_status(s, anchor, _policy(key))
    judged = (
        select(s.id, s.starts_at)
        .where(in_clinic(s, bindparam("clinic_id")))
        .outerjoin(
            anchor,
            # True of every anchor already (anchor_id finds doses only); written out, it lets
            # the plan read the anchor from ix_sessions_doses.
            and_(among(anchor.kind, [SessionKind.ketamine]), anchor.id == window_sql.anchor_id(s)),
        )
        .where(
            among(s.kind, [SessionKind.integration]),
            among(s.status, [SessionStatus.scheduled]),
            # The archived test only for the sessions the rule keeps (about one in eight), as
            # on the unbooked page. The planner still reads the scheduled sessions in
            # starts_at order and stops at the limit (a plan test holds it to that).
            case((status != WindowStatus.in_window.value, _not_archived()), else_=false()),
        )
    )
    judged = _by_clinician(judged, by_clinician)
    page = (
        judged.order_by(s.starts_at, s.id)
        .limit(bindparam("limit", type_=Integer()))
        .subquery("outside_window")
    )
    return select(s).join(page, s.id == page.c.id).order_by(page.c.starts_at, page.c.id)
