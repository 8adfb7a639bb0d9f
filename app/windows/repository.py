"""Statements of the window domain: the facts the rule needs, doses whose window events may be
due, and the marks that keep each window event to one emission."""

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Executable, Row, String, bindparam, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.clinics.models import Clinic
from app.db import in_clinic, insert_if_absent, new_id, to_epoch_us
from app.db_direct import read_tuples
from app.db_sets import among, one_of
from app.sessions.enums import ANCHORING_STATUSES, Route, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.windows import sql as window_sql
from app.windows.models import WindowEventMark
from app.windows.policy import WindowPolicy
from app.windows.rules import DoseFacts, IntegrationFacts, Window
from app.windows.sql import window_bounds_us, window_may_still_be_open

BATCH = 500
"""Ids per IN (...) list."""

T = TypeVar("T")
DoseRow = Row[
    uuid.UUID,
    uuid.UUID,
    uuid.UUID,
    SessionStatus,
    Route | None,
    datetime,
    datetime,
    datetime | None,
    int,
]
"""id, client_id, clinician_id, status, route, starts_at, ends_at, ended_at, version."""
MarkKey = tuple[uuid.UUID, str, datetime, datetime]
"""(dose id, event type, window opens_at, window closes_at): one window event of one dose."""


def in_batches(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class ClientFacts:
    """One client's doses and integration sessions, all statuses."""

    doses: list[DoseFacts] = field(default_factory=list)
    integrations: list[IntegrationFacts] = field(default_factory=list)


async def facts_for_clients(
    db: AsyncSession, clinic_id: uuid.UUID, client_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ClientFacts]:
    """Doses and integration sessions of the given clients, in one round trip."""
    ids = set(client_ids)
    if not ids:
        return defaultdict(ClientFacts)
    return _facts(await read_tuples(db, _FACTS, {"clinic_id": clinic_id, "client_ids": list(ids)}))


async def facts_for_page(
    db: AsyncSession, clinic_id: uuid.UUID, sessions: Sequence[ClinicalSession]
) -> dict[uuid.UUID, ClientFacts]:
    """What the rule reads to evaluate a page of sessions, in one round trip: not their
    clients' whole history (five years of it at 1M sessions), only what can decide the page.

    For a dose on the page, `evaluate_dose` asks about the integrations that may anchor it
    (starting no earlier than it, or linked to it) and which dose anchors each of those: the
    dose it is linked to, or the latest dose starting no later, which for such an integration
    starts no earlier than the page's dose. For an integration on the page, its own anchor.
    So: each client's sessions from its own earliest dose on the page (none for a client with
    only integrations there), the integrations linked to the page's doses, the doses those
    recent integrations are linked to, and each page integration's anchor
    (`window_sql.anchor_id`). Every other session could only change an answer nobody asks
    here; `tests/windows/test_sql_agrees_with_rules.py` checks the pages against the oracle."""
    doses = [s for s in sessions if s.kind is SessionKind.ketamine]
    integrations = [s for s in sessions if s.kind is SessionKind.integration]
    clients = {s.client_id for s in (*doses, *integrations)}
    if not clients:
        return defaultdict(ClientFacts)
    parameters = {
        "clinic_id": clinic_id,
        "client_ids": list(clients),
        "dose_ids": [s.id for s in doses],
        "integration_ids": [s.id for s in integrations],
    }
    return _facts(await read_tuples(db, _PAGE_FACTS, parameters))


def _facts(rows: Sequence[Sequence[Any]]) -> dict[uuid.UUID, ClientFacts]:
    facts: dict[uuid.UUID, ClientFacts] = defaultdict(ClientFacts)
    # A worklist reads hundreds of these rows: unpacked as tuples, each fact built directly
    # (`_new`: the named tuple's own constructor is a Python function, a call per row more).
    # The three enums come as their stored text and are looked up here: cheaper than a
    # conversion call per value.
    for id_, client_id, kind, status, route, starts_at, ends_at, ended_at, linked in rows:
        client = facts[client_id]
        if kind == _KETAMINE:
            client.doses.append(
                _new(
                    DoseFacts,
                    (id_, _STATUSES[status], _ROUTES[route], starts_at, ends_at, ended_at),
                )
            )
        else:
            client.integrations.append(
                _new(IntegrationFacts, (id_, _STATUSES[status], starts_at, linked))
            )
    return facts


_new = tuple.__new__


_KETAMINE = SessionKind.ketamine.value
_STATUSES = {status.value: status for status in SessionStatus}
_ROUTES = {route.value: route for route in Route}  # every ketamine session has a route

# Built once, the clinic and the clients bound at execution (see app/auth/repository.py).
_FACT_COLUMNS = (
    ClinicalSession.id,
    ClinicalSession.client_id,
    type_coerce(ClinicalSession.kind, String),
    type_coerce(ClinicalSession.status, String),
    type_coerce(ClinicalSession.route, String),
    ClinicalSession.starts_at,
    ClinicalSession.ends_at,
    ClinicalSession.ended_at,
    ClinicalSession.ketamine_session_id,
)
_OF_THE_CLIENTS = (
    in_clinic(ClinicalSession, bindparam("clinic_id")),
    one_of(ClinicalSession.client_id, "client_ids"),
    among(ClinicalSession.kind, (SessionKind.ketamine, SessionKind.integration)),
)
_FACTS = select(*_FACT_COLUMNS).where(*_OF_THE_CLIENTS)


def _page_facts() -> Executable:
    session, linking, page = ClinicalSession, aliased(ClinicalSession), aliased(ClinicalSession)
    # Each client's earliest dose on the page: a dose asks only about its own client's sessions,
    # so a client's history is read from its own earliest dose, not from the page's.
    since = (
        select(page.client_id, func.min(page.starts_at).label("since"))
        .where(in_clinic(page, bindparam("clinic_id")), one_of(page.id, "dose_ids"))
        .group_by(page.client_id)
        .cte("page_since")
    )
    linked_by_recent = (
        select(linking.ketamine_session_id)
        .join(since, since.c.client_id == linking.client_id)
        .where(
            in_clinic(linking, bindparam("clinic_id")),
            linking.starts_at >= since.c.since,
            linking.ketamine_session_id.is_not(None),
        )
    )
    integration = aliased(ClinicalSession)
    anchors_of_page = select(window_sql.anchor_id(integration)).where(
        one_of(integration.id, "integration_ids")
    )
    return (
        select(*_FACT_COLUMNS)
        .outerjoin(since, since.c.client_id == session.client_id)
        .where(
            *_OF_THE_CLIENTS,
            or_(
                session.starts_at >= since.c.since,
                one_of(session.ketamine_session_id, "dose_ids"),
                session.id.in_(linked_by_recent.scalar_subquery()),
                session.id.in_(anchors_of_page.scalar_subquery()),
            ),
        )
    )


_PAGE_FACTS = _page_facts()


async def policies_of_clinics(
    db: AsyncSession, clinic_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, WindowPolicy]:
    """The window policy of each clinic, read afresh (a policy change is seen at once)."""
    policies: dict[uuid.UUID, WindowPolicy] = {}
    for chunk in in_batches(clinic_ids):
        query = select(Clinic).where(Clinic.id.in_(chunk))
        for clinic in await db.scalars(query.execution_options(populate_existing=True)):
            policies[clinic.id] = WindowPolicy.from_clinic(clinic)
    return policies


async def doses_with_window_between(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    policy: WindowPolicy,
    opened_by: datetime,
    closing_after: datetime,
) -> Sequence[DoseRow]:
    """Anchoring doses whose window opened by `opened_by` and closes at or after
    `closing_after`, in id order: their facts, client, clinician and version.

    Read on the indexed anchor through `window_may_still_be_open`, so history older than the
    clinic's longest window is never looked at."""
    s = ClinicalSession
    opens_us, closes_us = window_bounds_us(s, policy)
    rows = await db.execute(
        select(
            s.id,
            s.client_id,
            s.clinician_id,
            s.status,
            s.route,
            s.starts_at,
            s.ends_at,
            s.ended_at,
            s.version,
        )
        .where(
            in_clinic(s, clinic_id),
            s.kind == SessionKind.ketamine,
            window_may_still_be_open(s, policy, closing_after),
            s.starts_at <= opened_by,
            among(s.status, ANCHORING_STATUSES),
            opens_us <= to_epoch_us(opened_by),
            closes_us >= to_epoch_us(closing_after),
        )
        .order_by(s.id)
    )
    return rows.all()


async def marks_of_doses(
    db: AsyncSession, dose_ids: Sequence[uuid.UUID], event_types: Collection[str]
) -> set[MarkKey]:
    """The marks already claimed for these doses and event types (any window)."""
    m = WindowEventMark
    marked: set[MarkKey] = set()
    for chunk in in_batches(dose_ids):
        rows = await db.execute(
            select(m.dose_id, m.event_type, m.window_opens_at, m.window_closes_at).where(
                m.dose_id.in_(chunk), m.event_type.in_(event_types)
            )
        )
        marked.update(
            (r.dose_id, r.event_type, r.window_opens_at, r.window_closes_at) for r in rows
        )
    return marked


async def claim_mark(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    dose_id: uuid.UUID,
    event_type: str,
    window: Window,
    now: datetime,
) -> bool:
    """Insert the mark unless it exists; True when this transaction's row went in."""
    return await insert_if_absent(
        db,
        WindowEventMark,
        {
            "id": new_id(),
            "clinic_id": clinic_id,
            "dose_id": dose_id,
            "event_type": event_type,
            "window_opens_at": window.opens_at,
            "window_closes_at": window.closes_at,
            "emitted_at": now,
        },
        ["dose_id", "event_type", "window_opens_at", "window_closes_at"],
    )
