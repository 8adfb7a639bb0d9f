"""`app.consents.rules` as SQL conditions, for the list's `status` and `in_force_at` filters.

Plain comparisons of stored instants with a bound one are exact on both databases (timestamptz
on PostgreSQL, fixed-width UTC text on SQLite), so no epoch arithmetic is needed here.
"""

from datetime import datetime

from sqlalchemy import and_, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from app.consents.models import Consent
from app.consents.rules import ConsentStatus


def withdrawn_by(at: datetime) -> ColumnElement[bool]:
    return and_(Consent.withdrawn_at.is_not(None), Consent.withdrawn_at <= at)


def expired_by(at: datetime) -> ColumnElement[bool]:
    return and_(Consent.expires_at.is_not(None), Consent.expires_at <= at)


def status_is(status: ConsentStatus, at: datetime) -> ColumnElement[bool]:
    """Rows whose `status_at(at)` is `status`."""
    if status is ConsentStatus.withdrawn:
        return withdrawn_by(at)
    if status is ConsentStatus.expired:
        return and_(not_(withdrawn_by(at)), expired_by(at))
    return not_(or_(withdrawn_by(at), expired_by(at)))


def in_force_at(at: datetime) -> ColumnElement[bool]:
    """Rows that `rules.in_force_at(at)` holds in force."""
    return and_(Consent.signed_at <= at, status_is(ConsentStatus.active, at))
