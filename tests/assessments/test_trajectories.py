"""Trajectories as pure functions: the snapshot values from baseline to latest, and the order."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assessments.scoring import (
    Instrument,
    Point,
    trajectory,
)
from tests.assessments.scoring_support import GAD7, PCL5, PHQ9, T0, point

# --- Trajectories -------------------------------------------------------------------------------


@pytest.mark.parametrize("instrument", list(Instrument))
def test_no_points_gives_an_empty_trajectory(instrument: Instrument) -> None:
    result = trajectory(instrument, [])
    assert result.instrument is instrument
    assert result.points == ()
    assert [
        result.baseline,
        result.latest,
        result.change_from_baseline,
        result.percent_change_from_baseline,
        result.halved_from_baseline,
        result.latest_below_5,
        result.latest_below_cutoff,
        result.reliable_change,
        result.clinically_meaningful_change,
    ] == [None] * 9


def test_a_single_point_is_both_baseline_and_latest_with_no_change() -> None:
    only = point(0, 12)
    result = trajectory(PHQ9, [only])
    assert result.baseline == result.latest == only
    assert (result.change_from_baseline, result.percent_change_from_baseline) == (0, 0.0)
    assert (result.halved_from_baseline, result.latest_below_5) == (False, False)
    assert (result.reliable_change, result.clinically_meaningful_change) == (None, None)
    assert result.latest_below_cutoff is None
    assert result.points == (only,)


def test_a_single_pcl5_point_has_no_change_of_either_size() -> None:
    result = trajectory(PCL5, [point(0, 50)])
    assert (result.change_from_baseline, result.reliable_change) == (0, False)
    assert result.clinically_meaningful_change is False
    assert result.latest_below_cutoff is False
    assert (result.halved_from_baseline, result.latest_below_5) == (None, None)


@pytest.mark.parametrize("instrument", [PHQ9, GAD7])
@pytest.mark.parametrize(
    ("baseline", "latest", "halved", "percent"),
    [
        pytest.param(20, 10, True, -50.0, id="exactly 50 %"),
        pytest.param(14, 7, True, -50.0, id="exactly 50 % of 14"),
        pytest.param(21, 11, False, -47.6, id="47.6 %"),
        pytest.param(15, 8, False, -46.7, id="one point short of half of 15"),
        pytest.param(15, 7, True, -53.3, id="53.3 %"),
        pytest.param(10, 12, False, 20.0, id="worse"),
    ],
)
def test_halved_from_baseline_is_a_reduction_of_at_least_half(
    instrument: Instrument, baseline: int, latest: int, halved: bool, percent: float
) -> None:
    result = trajectory(instrument, [point(0, baseline), point(56, latest)])
    assert result.halved_from_baseline is halved
    assert result.change_from_baseline == latest - baseline
    assert result.percent_change_from_baseline == percent
    assert (result.reliable_change, result.clinically_meaningful_change) == (None, None)


def test_halved_just_short_of_half_on_the_largest_phq9_baseline() -> None:
    result = trajectory(PHQ9, [point(0, 27), point(56, 14)])
    assert (result.halved_from_baseline, result.percent_change_from_baseline) == (False, -48.1)
    assert trajectory(PHQ9, [point(0, 27), point(56, 13)]).halved_from_baseline is True


@pytest.mark.parametrize("instrument", [PHQ9, GAD7])
@pytest.mark.parametrize(("latest", "below"), [(0, True), (4, True), (5, False)])
def test_latest_below_5_is_the_minimal_band(
    instrument: Instrument, latest: int, below: bool
) -> None:
    result = trajectory(instrument, [point(0, 18), point(56, latest)])
    assert result.latest_below_5 is below
    assert result.latest_below_cutoff is None


@pytest.mark.parametrize("instrument", [PHQ9, GAD7])
def test_a_zero_baseline_has_no_percent_and_cannot_be_halved(instrument: Instrument) -> None:
    result = trajectory(instrument, [point(0, 0), point(56, 3)])
    assert result.change_from_baseline == 3
    assert (result.percent_change_from_baseline, result.halved_from_baseline) == (None, None)
    assert result.latest_below_5 is True


def test_percent_change_rounds_a_half_away_from_zero() -> None:
    assert trajectory(PCL5, [point(0, 16), point(7, 15)]).percent_change_from_baseline == -6.3
    assert trajectory(PCL5, [point(0, 16), point(7, 17)]).percent_change_from_baseline == 6.3
    assert trajectory(PHQ9, [point(0, 3), point(7, 2)]).percent_change_from_baseline == -33.3


@pytest.mark.parametrize(
    ("latest", "reliable", "meaningful"),
    [
        (40, True, True),
        (41, True, False),
        (45, True, False),
        (46, False, False),
        (55, False, False),
        (60, False, False),  # ten points worse is a change, but not an improvement
    ],
)
def test_pcl5_a_drop_of_5_is_reliable_change_and_of_10_is_meaningful(
    latest: int, reliable: bool, meaningful: bool
) -> None:
    result = trajectory(PCL5, [point(0, 50), point(56, latest)])
    assert result.clinically_meaningful_change is meaningful
    assert result.reliable_change is reliable
    assert result.change_from_baseline == latest - 50
    assert (result.halved_from_baseline, result.latest_below_5) == (None, None)


@pytest.mark.parametrize(("latest", "below"), [(32, True), (33, False)])
def test_pcl5_latest_below_the_default_cutoff(latest: int, below: bool) -> None:
    assert trajectory(PCL5, [point(0, 60), point(56, latest)]).latest_below_cutoff is below


@pytest.mark.parametrize(("latest", "below"), [(27, True), (28, False)])
def test_pcl5_latest_below_a_clinic_cutoff(latest: int, below: bool) -> None:
    result = trajectory(PCL5, [point(0, 60), point(56, latest)], pcl5_cutoff=28)
    assert result.latest_below_cutoff is below


def test_pcl5_with_a_zero_baseline_has_no_percent_but_still_a_change() -> None:
    result = trajectory(PCL5, [point(0, 0), point(7, 12)])
    assert (result.change_from_baseline, result.percent_change_from_baseline) == (12, None)
    assert result.reliable_change is False


def test_points_are_put_in_order_and_the_ends_are_earliest_and_most_recent() -> None:
    first, middle, last = point(0, 20), point(14, 15), point(28, 9)
    result = trajectory(PHQ9, [middle, last, first])
    assert result.points == (first, middle, last)
    assert (result.baseline, result.latest) == (first, last)
    assert result.change_from_baseline == -11


def test_order_compares_instants_across_time_zones() -> None:
    utc = Point(administered_at=T0, total=20, severity=None)
    # 09:30 at +05:00 is 04:30 UTC: earlier than 09:00 UTC, although its wall-clock time is later.
    plus_five = timezone(timedelta(hours=5))
    earlier = Point(
        administered_at=datetime(2026, 3, 2, 9, 30, tzinfo=plus_five), total=10, severity=None
    )
    assert trajectory(PHQ9, [utc, earlier]).baseline == earlier


def test_equal_timestamps_are_ordered_by_assessment_id_whatever_the_input_order() -> None:
    low = uuid.UUID(int=1)
    high = uuid.UUID(int=2)
    a, b = point(0, 20, high), point(0, 8, low)
    later = point(7, 12, uuid.UUID(int=0))
    for given_order in ([a, b, later], [later, b, a], [b, later, a]):
        result = trajectory(PHQ9, given_order)
        assert result.points == (b, a, later)
        assert result.baseline == b


@given(
    data=st.data(),
    totals=st.lists(st.integers(min_value=0, max_value=27), min_size=1, max_size=8),
    same_day=st.booleans(),
)
def test_trajectory_does_not_depend_on_input_order(
    data: st.DataObject, totals: list[int], same_day: bool
) -> None:
    points = [
        point(0 if same_day else i, total, uuid.UUID(int=i + 1)) for i, total in enumerate(totals)
    ]
    shuffled = data.draw(st.permutations(points))
    assert trajectory(PHQ9, shuffled) == trajectory(PHQ9, points)
    assert trajectory(PHQ9, shuffled).points == tuple(points)
