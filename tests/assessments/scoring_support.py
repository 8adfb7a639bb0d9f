"""Builders of the scoring tests' inputs: item lists that hit an exact total, and points in time."""

import uuid
from datetime import UTC, datetime, timedelta

from app.assessments.scoring import ITEM_COUNT, ITEM_MAX, Instrument, Point, Severity

PHQ9, GAD7, PCL5 = Instrument.phq9, Instrument.gad7, Instrument.pcl5
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(weeks=1)
RANK = {severity: rank for rank, severity in enumerate(Severity)}


def items(instrument: Instrument, total: int) -> list[int]:
    """Item scores that add up to `total`, filled from item 1 (so PHQ-9 item 9 stays 0 below 25)."""
    top, remaining, scores = ITEM_MAX[instrument], total, []
    for _ in range(ITEM_COUNT[instrument]):
        scores.append(min(top, remaining))
        remaining -= scores[-1]
    assert remaining == 0, f"{instrument} cannot total {total}"
    return scores


def pcl5_items(b: int, c: int, d: int, e: int, level: int = 2) -> list[int]:
    """PCL-5 items with the given number endorsed (at `level`) in each DSM-5 cluster, the rest 0."""
    clusters = ((b, 5), (c, 2), (d, 7), (e, 6))
    return [level if i < endorsed else 0 for endorsed, size in clusters for i in range(size)]


def point(days: int, total: int, assessment_id: uuid.UUID | None = None) -> Point:
    return Point(
        administered_at=T0 + timedelta(days=days),
        total=total,
        severity=None,
        assessment_id=assessment_id,
    )
