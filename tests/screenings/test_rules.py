"""The medical-clearance rule on plain values: which screening governs, and every boundary."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.screenings.rules import (
    ClearanceStatus,
    Decision,
    MedicalClearance,
    ScreeningFact,
    clearance_at,
    valid_until,
)

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def fact(
    decision: Decision,
    screened: timedelta,
    *,
    days: int = 365,
    recorded: timedelta | None = None,
    uid: int | None = None,
) -> ScreeningFact:
    """A screening `screened` after T, recorded at that moment unless said, valid `days`."""
    at = T + screened
    return ScreeningFact(
        id=uuid.UUID(int=uid) if uid is not None else uuid.uuid4(),
        screened_at=at,
        recorded_at=T + (recorded if recorded is not None else screened),
        decision=decision,
        valid_until=valid_until(at, days),
    )


CLEARED, NOT_CLEARED, PENDING = Decision.cleared, Decision.not_cleared, Decision.pending


def test_valid_until_is_whole_days_on_the_utc_timeline() -> None:
    # Across the US spring-forward (2026-03-08): still exactly 7 x 24 h later.
    start = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
    assert valid_until(start, 7) == start + timedelta(hours=168)


def test_no_screening_is_missing() -> None:
    assert clearance_at([], T) == MedicalClearance(ClearanceStatus.missing)


def test_a_cleared_screening_clears_from_screened_at_through_valid_until() -> None:
    cleared = fact(CLEARED, timedelta(0), days=30)
    assert clearance_at([cleared], T - SECOND).status is ClearanceStatus.missing
    at_start = clearance_at([cleared], T)
    assert at_start == MedicalClearance(ClearanceStatus.cleared, cleared.id, cleared.valid_until)
    assert at_start.cleared
    assert clearance_at([cleared], cleared.valid_until).cleared
    after = clearance_at([cleared], cleared.valid_until + SECOND)
    assert after == MedicalClearance(ClearanceStatus.expired, cleared.id, cleared.valid_until)
    assert not after.cleared


def test_only_pending_screenings_are_pending() -> None:
    first, second = fact(PENDING, timedelta(0)), fact(PENDING, DAY)
    found = clearance_at([second, first], T + 2 * DAY)
    assert found == MedicalClearance(ClearanceStatus.pending, second.id, None, second.id)
    assert not found.cleared


def test_a_later_pending_screening_does_not_revoke_a_clearance() -> None:
    cleared, pending = fact(CLEARED, timedelta(0)), fact(PENDING, DAY)
    found = clearance_at([cleared, pending], T + 2 * DAY)
    assert found.cleared
    assert (found.screening_id, found.pending_screening_id) == (cleared.id, pending.id)


def test_a_later_not_cleared_supersedes_a_valid_clearance() -> None:
    cleared, refused = fact(CLEARED, timedelta(0)), fact(NOT_CLEARED, DAY)
    assert clearance_at([cleared, refused], T + DAY - SECOND).cleared
    found = clearance_at([cleared, refused], T + DAY)
    assert found == MedicalClearance(ClearanceStatus.not_cleared, refused.id, None)


def test_a_later_clearance_lifts_a_not_cleared() -> None:
    refused, cleared = fact(NOT_CLEARED, timedelta(0)), fact(CLEARED, DAY)
    assert clearance_at([refused, cleared], T + DAY).cleared


def test_a_pending_screening_does_not_lift_a_not_cleared() -> None:
    refused, pending = fact(NOT_CLEARED, timedelta(0)), fact(PENDING, DAY)
    found = clearance_at([refused, pending], T + 2 * DAY)
    assert found == MedicalClearance(ClearanceStatus.not_cleared, refused.id, None, pending.id)


def test_a_pending_screening_does_not_hide_an_expired_clearance() -> None:
    cleared, pending = fact(CLEARED, timedelta(0), days=10), fact(PENDING, 11 * DAY)
    found = clearance_at([cleared, pending], T + 12 * DAY)
    assert (found.status, found.screening_id) == (ClearanceStatus.expired, cleared.id)
    assert found.pending_screening_id == pending.id


def test_a_pending_screening_decided_on_since_awaits_nothing() -> None:
    pending, cleared = fact(PENDING, timedelta(0)), fact(CLEARED, timedelta(0), recorded=DAY)
    found = clearance_at([pending, cleared], T + 2 * DAY)
    assert found == MedicalClearance(ClearanceStatus.cleared, cleared.id, cleared.valid_until)


def test_the_latest_decision_governs_even_with_a_shorter_validity() -> None:
    """A later clearance with a shorter validity (the policy changed) is the one that counts."""
    long, short = fact(CLEARED, timedelta(0), days=700), fact(CLEARED, DAY, days=10)
    found = clearance_at([long, short], T + 20 * DAY)
    assert (found.status, found.screening_id) == (ClearanceStatus.expired, short.id)


def test_screenings_after_the_instant_do_not_count() -> None:
    cleared, refused = fact(CLEARED, timedelta(0)), fact(NOT_CLEARED, DAY)
    assert clearance_at([cleared, refused], T + DAY - SECOND).cleared
    assert clearance_at([refused], T + DAY - SECOND).status is ClearanceStatus.missing


def test_of_one_examination_the_decision_recorded_later_governs() -> None:
    refused = fact(NOT_CLEARED, timedelta(0), recorded=timedelta(hours=1))
    cleared = fact(CLEARED, timedelta(0), recorded=timedelta(hours=2))
    assert clearance_at([cleared, refused], T + DAY).cleared
    refused_later = fact(NOT_CLEARED, timedelta(0), recorded=timedelta(hours=3))
    assert not clearance_at([cleared, refused, refused_later], T + DAY).cleared


@pytest.mark.parametrize("uids", [(1, 2), (2, 1)])
def test_of_one_examination_recorded_at_once_not_cleared_wins(uids: tuple[int, int]) -> None:
    cleared = fact(CLEARED, timedelta(0), uid=uids[0])
    refused = fact(NOT_CLEARED, timedelta(0), uid=uids[1])
    found = clearance_at([cleared, refused], T + DAY)
    assert (found.status, found.screening_id) == (ClearanceStatus.not_cleared, refused.id)
