"""Depression remission and response at twelve months (CMS159 v14, NQF 0710 and NQF 1885).

Pure functions on scored PHQ-9 points and an instant, so every boundary (the index cut-off, both
ends of the measurement period, exactly half) is tested without a database. The rules are the
API contract's reading of the measures ("Assessments and measurement-based care"; the sources
are in docs/clinical-evidence.md#measures-cms159):

- the index is the client's FIRST PHQ-9 with a total above 9; a later, higher one does not move it;
- the measurement period is [index + 305 days, index + 425 days] (12 months ± 60 days), both ends
  included, in exact 24-hour days from the index instant;
- the latest PHQ-9 inside the period decides: remission when its total is below 5, response when
  it is at most half the index total.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.assessments.scoring import Point, chronological_key

INDEX_ABOVE = 9
"""CMS159 / NQF 0710 denominator: an index PHQ-9 total above 9 (moderate or worse)."""

REMISSION_BELOW = 5
"""CMS159 / NQF 0710 numerator: the most recent PHQ-9 in the period totals below 5."""

PERIOD_OPENS_AFTER = timedelta(days=305)
PERIOD_CLOSES_AFTER = timedelta(days=425)
"""The measurement period, 12 months ± 60 days after the index (CMS159 v12 onwards; ± 30 before)."""


class MeasureStatus(StrEnum):
    """Where a client stands on one twelve-month measure, as of now."""

    not_due = "not_due"
    open = "open"
    met = "met"
    not_met = "not_met"
    no_assessment = "no_assessment"


@dataclass(frozen=True)
class IndexEvent:
    """The PHQ-9 that starts the clock: the first one with a total above 9."""

    assessment_id: uuid.UUID | None
    administered_at: datetime
    total: int


@dataclass(frozen=True)
class Measure:
    """One measure's state. `assessment_id` is the PHQ-9 that decided it (None while none has)."""

    status: MeasureStatus
    final: bool
    period_start: datetime
    period_end: datetime
    assessment_id: uuid.UUID | None


@dataclass(frozen=True)
class Measures:
    """The index and both measures; all three are None when the client has no index PHQ-9."""

    index: IndexEvent | None
    remission_12m: Measure | None
    response_12m: Measure | None


NO_INDEX = Measures(index=None, remission_12m=None, response_12m=None)


def index_event(points: Iterable[Point]) -> IndexEvent | None:
    """The first PHQ-9 (by time, then id) with a total above 9, or None."""
    for point in sorted(points, key=chronological_key):
        if point.total > INDEX_ABOVE:
            return IndexEvent(point.assessment_id, point.administered_at, point.total)
    return None


def remitted(total: int) -> bool:
    return total < REMISSION_BELOW


def responded(total: int, index_total: int) -> bool:
    """At most half the index total, in integers: exactly half is a response, with no rounding."""
    return 2 * total <= index_total


def _measure(
    decided_by: Point | None, met: bool, start: datetime, end: datetime, now: datetime
) -> Measure:
    final = now > end
    if decided_by is not None:
        status = MeasureStatus.met if met else MeasureStatus.not_met
        return Measure(status, final, start, end, decided_by.assessment_id)
    if now < start:
        status = MeasureStatus.not_due
    elif final:
        status = MeasureStatus.no_assessment
    else:
        status = MeasureStatus.open
    return Measure(status, final, start, end, None)


def twelve_month_measures(phq9: Iterable[Point], now: datetime) -> Measures:
    """CMS159 remission and NQF 1885 response for one client's PHQ-9 points, as of `now`.

    A PHQ-9 inside the period decides even if `now` is (by a clock set back) before the period:
    what was recorded is reported rather than hidden behind `not_due`.
    """
    points = tuple(phq9)
    index = index_event(points)
    if index is None:
        return NO_INDEX
    start = index.administered_at + PERIOD_OPENS_AFTER
    end = index.administered_at + PERIOD_CLOSES_AFTER
    in_period = [p for p in points if start <= p.administered_at <= end]
    latest = max(in_period, key=chronological_key) if in_period else None
    total = latest.total if latest is not None else 0
    return Measures(
        index=index,
        remission_12m=_measure(latest, remitted(total), start, end, now),
        response_12m=_measure(latest, responded(total, index.total), start, end, now),
    )
