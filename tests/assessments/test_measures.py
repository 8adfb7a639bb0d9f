"""CMS159 remission and NQF 1885 response at twelve months, as pure functions: every boundary."""

import uuid
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assessments.measures import (
    NO_INDEX,
    IndexEvent,
    Measure,
    MeasureStatus,
    twelve_month_measures,
)
from app.assessments.scoring import Point
from tests.assessments.scoring_support import T0

SECOND = timedelta(seconds=1)
# 12 months ± 60 days, written out rather than imported so that a changed constant fails here.
START, END = T0 + timedelta(days=305), T0 + timedelta(days=425)
INSIDE = START + timedelta(days=30)
AFTER = END + timedelta(days=1)


def phq9(at: datetime, total: int, n: int = 0) -> Point:
    """A PHQ-9 at an instant; `n` gives it a distinct id (ids break ties in time)."""
    return Point(administered_at=at, total=total, severity=None, assessment_id=uuid.UUID(int=n))


def measured(*points: Point, now: datetime) -> tuple[Measure, Measure]:
    """Both measures for an index of 20 at T0 (id 0) and the given PHQ-9s."""
    result = twelve_month_measures([phq9(T0, 20), *points], now)
    assert result.remission_12m is not None
    assert result.response_12m is not None
    return result.remission_12m, result.response_12m


def test_the_period_runs_305_to_425_days_after_the_index() -> None:
    remission, response = measured(now=INSIDE)
    assert (remission.period_start, remission.period_end) == (START, END)
    assert (response.period_start, response.period_end) == (START, END)


def test_an_index_total_of_9_is_no_index_and_both_measures_are_null() -> None:
    points = [phq9(T0, 9), phq9(INSIDE, 2, 1)]
    assert twelve_month_measures(points, AFTER) == NO_INDEX


def test_an_index_total_of_10_is_the_index() -> None:
    result = twelve_month_measures([phq9(T0, 10, 7)], INSIDE)
    assert result.index == IndexEvent(uuid.UUID(int=7), T0, 10)


def test_no_phq9_at_all_is_no_index() -> None:
    assert twelve_month_measures([], T0) == NO_INDEX


def test_the_index_is_the_first_phq9_above_9_and_a_later_higher_one_does_not_move_it() -> None:
    before, first, higher = (
        phq9(T0 - timedelta(days=30), 8, 1),
        phq9(T0, 11, 2),
        phq9(INSIDE, 27, 3),
    )
    result = twelve_month_measures([higher, first, before], INSIDE)
    assert result.index == IndexEvent(uuid.UUID(int=2), T0, 11)


def test_not_due_one_second_before_the_period() -> None:
    remission, response = measured(now=START - SECOND)
    assert (remission.status, response.status) == (MeasureStatus.not_due, MeasureStatus.not_due)
    assert (remission.final, remission.assessment_id) == (False, None)


def test_open_from_the_first_second_of_the_period_with_none_in_it() -> None:
    remission, response = measured(now=START)
    assert (remission.status, response.status) == (MeasureStatus.open, MeasureStatus.open)
    assert (remission.final, remission.assessment_id) == (False, None)


def test_a_phq9_one_second_before_the_period_does_not_count() -> None:
    remission, response = measured(phq9(START - SECOND, 2, 1), now=INSIDE)
    assert (remission.status, response.status) == (MeasureStatus.open, MeasureStatus.open)
    assert remission.assessment_id is None


def test_a_phq9_at_period_start_counts() -> None:
    remission, response = measured(phq9(START, 2, 1), now=START)
    assert (remission.status, response.status) == (MeasureStatus.met, MeasureStatus.met)
    assert remission.assessment_id == response.assessment_id == uuid.UUID(int=1)


def test_a_phq9_at_period_end_counts() -> None:
    remission, response = measured(phq9(END, 2, 1), now=AFTER)
    assert (remission.status, response.status) == (MeasureStatus.met, MeasureStatus.met)
    assert remission.assessment_id == uuid.UUID(int=1)


def test_a_phq9_one_second_after_the_period_does_not_count() -> None:
    remission, response = measured(phq9(END + SECOND, 2, 1), now=AFTER)
    assert remission.status is MeasureStatus.no_assessment
    assert response.status is MeasureStatus.no_assessment
    assert remission.assessment_id is None


def test_the_latest_in_the_period_decides_met_then_not_met() -> None:
    met, not_met = phq9(INSIDE, 3, 1), phq9(INSIDE + timedelta(days=14), 12, 2)
    remission, response = measured(not_met, met, now=AFTER)
    assert (remission.status, response.status) == (MeasureStatus.not_met, MeasureStatus.not_met)
    assert remission.assessment_id == response.assessment_id == uuid.UUID(int=2)


def test_the_latest_in_the_period_decides_not_met_then_met() -> None:
    not_met, met = phq9(INSIDE, 12, 1), phq9(INSIDE + timedelta(days=14), 3, 2)
    remission, response = measured(met, not_met, now=AFTER)
    assert (remission.status, response.status) == (MeasureStatus.met, MeasureStatus.met)
    assert remission.assessment_id == uuid.UUID(int=2)


def test_no_assessment_after_an_empty_period() -> None:
    remission, response = measured(phq9(START - SECOND, 2, 1), phq9(AFTER, 2, 2), now=AFTER)
    assert remission == Measure(MeasureStatus.no_assessment, True, START, END, None)
    assert response == Measure(MeasureStatus.no_assessment, True, START, END, None)


@pytest.mark.parametrize(("total", "status"), [(4, MeasureStatus.met), (5, MeasureStatus.not_met)])
def test_remission_is_a_latest_total_below_5(total: int, status: MeasureStatus) -> None:
    remission, response = measured(phq9(INSIDE, total, 1), now=INSIDE)
    assert remission.status is status
    assert response.status is MeasureStatus.met  # 5 is a quarter of 20: response without remission


@pytest.mark.parametrize(
    ("index", "latest", "status"),
    [
        pytest.param(14, 7, MeasureStatus.met, id="exactly half of 14"),
        pytest.param(14, 8, MeasureStatus.not_met, id="one above half of 14"),
        pytest.param(15, 7, MeasureStatus.met, id="7 of 15 (46.7 %)"),
        pytest.param(15, 8, MeasureStatus.not_met, id="8 of 15 (53.3 %), just above half"),
        pytest.param(27, 13, MeasureStatus.met, id="13 of 27"),
        pytest.param(27, 14, MeasureStatus.not_met, id="14 of 27"),
        pytest.param(10, 5, MeasureStatus.met, id="exactly half of the lowest index"),
    ],
)
def test_response_is_at_most_half_the_index_total(
    index: int, latest: int, status: MeasureStatus
) -> None:
    result = twelve_month_measures([phq9(T0, index), phq9(INSIDE, latest, 1)], INSIDE)
    assert result.response_12m is not None
    assert result.response_12m.status is status


def test_final_is_false_at_period_end_and_true_one_second_later() -> None:
    decided = phq9(INSIDE, 2, 1)
    at_end, _ = measured(decided, now=END)
    after, _ = measured(decided, now=END + SECOND)
    assert (at_end.status, at_end.final) == (MeasureStatus.met, False)
    assert (after.status, after.final) == (MeasureStatus.met, True)


def test_open_turns_into_no_assessment_one_second_after_period_end() -> None:
    at_end, _ = measured(now=END)
    after, _ = measured(now=END + SECOND)
    assert (at_end.status, at_end.final) == (MeasureStatus.open, False)
    assert (after.status, after.final) == (MeasureStatus.no_assessment, True)


def test_a_tie_in_time_is_decided_by_the_assessment_id_in_any_input_order() -> None:
    low, high = phq9(INSIDE, 12, 1), phq9(INSIDE, 3, 2)
    for order in ([low, high], [high, low]):
        remission, _ = measured(*order, now=INSIDE)
        assert (remission.status, remission.assessment_id) == (MeasureStatus.met, uuid.UUID(int=2))


@given(
    data=st.data(),
    offsets=st.lists(st.integers(min_value=-400, max_value=500), min_size=1, max_size=8),
    totals=st.lists(st.integers(min_value=0, max_value=27), min_size=8, max_size=8),
    now_days=st.integers(min_value=0, max_value=900),
)
def test_measures_do_not_depend_on_input_order(
    data: st.DataObject, offsets: list[int], totals: list[int], now_days: int
) -> None:
    points = [
        phq9(T0 + timedelta(days=offset), total, n)
        for n, (offset, total) in enumerate(zip(offsets, totals, strict=False))
    ]
    now = T0 + timedelta(days=now_days)
    shuffled = data.draw(st.permutations(points))
    assert twelve_month_measures(shuffled, now) == twelve_month_measures(points, now)
