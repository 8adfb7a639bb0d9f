"""The window rule as SQL expressions, for filters that must run in the database and paginate.

Instants are compared as integer microseconds since the epoch (`epoch_us`), which is exact on
PostgreSQL and SQLite alike. Policy offsets are bound as parameters: every query is scoped to one
clinic, whose policy the request has already loaded.
"""

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, case, exists, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import AliasedClass
from sqlalchemy.sql.elements import ColumnElement

from app.clients.models import Client, ClientStage
from app.db import epoch_us
from app.db_sets import among
from app.sessions.enums import ANCHORING_STATUSES, Route, SessionKind, SessionStatus
from app.sessions.models import ClinicalSession
from app.windows.policy import WindowPolicy
from app.windows.rules import IntegrationStatus, WindowStatus

US_PER_S = 1_000_000
Sessions = type[ClinicalSession] | AliasedClass[ClinicalSession]

# Aliases of the sessions table, made once: aliasing copies every column of the table, which
# cost more CPU than all the rest of a journey request when it was done per call (see
# docs/performance.md). One alias per role, so no statement nests an alias inside itself.
_LINKED = aliased(ClinicalSession)  # anchor_id: the linked dose
_INFERRED = aliased(ClinicalSession)  # anchor_id: the latest dose before
_BOOKED = aliased(ClinicalSession)  # dose_integration_status: an integration in the window
_STAGE_ACTIVE = aliased(ClinicalSession)  # client_stage's EXISTS subqueries
_STAGE_COMPLETED_DOSE = aliased(ClinicalSession)
_STAGE_SCHEDULED_DOSE = aliased(ClinicalSession)
_STAGE_LATEST = aliased(ClinicalSession)  # client_stage: the latest completed dose


def _us(value: int) -> ColumnElement[int]:
    return literal(value, BigInteger())


def anchor_time(dose: Sessions) -> ColumnElement[datetime]:
    """T(K): ended_at when recorded, else ends_at. Indexed exactly as written, with clinic and
    kind (ix_sessions_clinic_kind_anchor)."""
    return func.coalesce(dose.ended_at, dose.ends_at)


def anchor_time_us(dose: Sessions) -> ColumnElement[int]:
    """T(K) in microseconds."""
    return epoch_us(anchor_time(dose))


def window_may_still_be_open(
    dose: Sessions, policy: WindowPolicy, now: datetime
) -> ColumnElement[bool]:
    """Implied by `now <= closes_at` (the longest window cannot close later), but on the indexed
    anchor: it lets the database skip every dose whose window closed long ago instead of
    evaluating the rule for the whole history. Adds no answer and removes none."""
    return anchor_time(dose) >= now - longest_window(policy)


def longest_window(policy: WindowPolicy) -> timedelta:
    """How long after T(K) the latest-closing window of any route closes."""
    return timedelta(seconds=max(policy.closes_after_s.values()))


def window_bounds_us(
    dose: Sessions, policy: WindowPolicy
) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """(opens_at, closes_at) of a dose's window, in microseconds."""
    anchor = anchor_time_us(dose)
    closes_after_s = case(
        *((dose.route == route, _us(policy.closes_after_s[route])) for route in Route),
        else_=_us(0),
    )
    opens = anchor + _us(policy.opens_after_s * US_PER_S)
    closes = anchor + closes_after_s * _us(US_PER_S)
    return opens, closes


def anchor_id(integration: Sessions) -> ColumnElement[Any]:
    """The id of the dose anchoring an integration session: the linked one if it anchors,
    else the same client's latest anchoring dose starting no later than the session."""
    linked = _LINKED
    linked_id = (
        select(linked.id)
        .where(
            linked.id == integration.ketamine_session_id,
            # Written into the text, so that a generic plan may read the dose from the doses'
            # partial index alone (ix_sessions_doses).
            among(linked.kind, [SessionKind.ketamine]),
            among(linked.status, ANCHORING_STATUSES),
        )
        .correlate(integration)  # explicit, so it also holds inside a LATERAL subquery
        .scalar_subquery()
    )
    dose = _INFERRED
    inferred_id = (
        select(dose.id)
        .where(
            dose.clinic_id == integration.clinic_id,
            dose.client_id == integration.client_id,
            # Written in as the linked dose's is; this read is of the client-sessions index,
            # which is not partial, so here it changes the text, not the plan.
            among(dose.kind, [SessionKind.ketamine]),
            among(dose.status, ANCHORING_STATUSES),
            dose.starts_at <= integration.starts_at,
        )
        .order_by(dose.starts_at.desc(), dose.id.desc())
        .limit(1)
        .correlate(integration)
        .scalar_subquery()
    )
    return func.coalesce(linked_id, inferred_id)


def integration_window_status(
    integration: Sessions, anchor: Sessions, policy: WindowPolicy
) -> ColumnElement[str]:
    """I.window.status, given `anchor` outer-joined on `anchor_id(integration)`."""
    opens, closes = window_bounds_us(anchor, policy)
    starts = epoch_us(integration.starts_at)
    return case(
        (anchor.id.is_(None), WindowStatus.no_ketamine_session.value),
        (starts < opens, WindowStatus.before_window.value),
        (starts <= closes, WindowStatus.in_window.value),
        else_=WindowStatus.after_window.value,
    )


def _booked_in_window(
    dose: Sessions, opens: ColumnElement[int], closes: ColumnElement[int]
) -> ColumnElement[bool]:
    """Whether the dose anchors an integration session starting inside its window."""
    integration = _BOOKED
    starts = epoch_us(integration.starts_at)
    return exists().where(
        integration.clinic_id == dose.clinic_id,
        integration.client_id == dose.client_id,
        integration.kind == SessionKind.integration,
        among(integration.status, ANCHORING_STATUSES),
        # Implied by `starts >= opens` (a window never opens before T(K): the clinics table
        # checks it), but on the indexed starts_at: the database reads the client's sessions
        # from the dose on, not their whole history. Adds no answer and removes none.
        integration.starts_at >= anchor_time(dose),
        anchor_id(integration) == dose.id,
        starts >= opens,
        starts <= closes,
    )


def _now(now_us: int | ColumnElement[int]) -> ColumnElement[int]:
    return _us(now_us) if isinstance(now_us, int) else now_us


def dose_integration_status(
    dose: Sessions, policy: WindowPolicy, now_us: int | ColumnElement[int]
) -> ColumnElement[str]:
    """K.integration.status for a ketamine session row (`now_us` a value, or a BIGINT bound
    parameter for statements built once)."""
    opens, closes = window_bounds_us(dose, policy)
    return case(
        (~among(dose.status, ANCHORING_STATUSES), IntegrationStatus.not_applicable.value),
        (_booked_in_window(dose, opens, closes), IntegrationStatus.booked_in_window.value),
        (_now(now_us) <= closes, IntegrationStatus.unbooked.value),
        else_=IntegrationStatus.missed.value,
    )


def dose_unbooked(
    dose: Sessions, policy: WindowPolicy, now_us: int | ColumnElement[int]
) -> ColumnElement[bool]:
    """`dose_integration_status(...) == unbooked` as a condition, its parts written cheapest
    first (as a CASE's condition they also run in that order): the booking check, a history
    read, only for anchoring doses whose window has not closed."""
    opens, closes = window_bounds_us(dose, policy)
    return and_(
        among(dose.status, ANCHORING_STATUSES),
        _now(now_us) <= closes,
        ~_booked_in_window(dose, opens, closes),
    )


STAGE_NOW_US = "stage_now_us"


def client_stage(client: type[Client], policy: WindowPolicy) -> ColumnElement[str]:
    """The derived journey stage of a client (docs/architecture.md, "The window rule").

    "Now" is the bound parameter STAGE_NOW_US (epoch microseconds), given when the statement
    executes, so the expression is built once per policy: building it cost more than running it.
    """
    closes = tuple(sorted(policy.closes_after_s.items()))
    return _client_stage(client, policy.opens_after_s, closes, policy.closing_soon_s)


@functools.lru_cache(maxsize=256)
def _client_stage(
    client: type[Client],
    opens_after_s: int,
    closes_after_s: tuple[tuple[Route, int], ...],
    closing_soon_s: int,
) -> ColumnElement[str]:
    policy = WindowPolicy(opens_after_s, dict(closes_after_s), closing_soon_s)
    now_us = bindparam(STAGE_NOW_US, type_=BigInteger())

    def session_where(
        session: Sessions,
        kind: SessionKind | None,
        statuses: tuple[SessionStatus, ...],
    ) -> ColumnElement[bool]:
        conditions = [
            session.clinic_id == client.clinic_id,
            session.client_id == client.id,
            among(session.status, statuses),
        ]
        if kind is not None:
            conditions.append(session.kind == kind)
        return exists().where(and_(*conditions))

    active = session_where(_STAGE_ACTIVE, None, ANCHORING_STATUSES)
    completed_dose = session_where(
        _STAGE_COMPLETED_DOSE, SessionKind.ketamine, (SessionStatus.completed,)
    )
    scheduled_dose = session_where(
        _STAGE_SCHEDULED_DOSE, SessionKind.ketamine, (SessionStatus.scheduled,)
    )
    latest = _STAGE_LATEST
    _, latest_closes = window_bounds_us(latest, policy)
    latest_closes_us = (
        select(latest_closes)
        .where(
            latest.clinic_id == client.clinic_id,
            latest.client_id == client.id,
            latest.kind == SessionKind.ketamine,
            latest.status == SessionStatus.completed,
        )
        .order_by(latest.starts_at.desc(), latest.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return case(
        (~active, ClientStage.intake.value),
        (~completed_dose, ClientStage.preparation.value),
        (or_(scheduled_dose, latest_closes_us >= now_us), ClientStage.active_treatment.value),
        else_=ClientStage.maintenance.value,
    )
