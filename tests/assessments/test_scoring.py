"""Scale scoring and trajectories as pure functions: every published cut-off on both sides.

Item lists are built to hit an exact total, so a test names the total it is about rather than a
list of numbers the reader has to add up.
"""

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assessments.scoring import (
    ITEM_COUNT,
    ITEM_MAX,
    Instrument,
    ItemScoresInvalid,
    Point,
    Severity,
    check_items,
    score,
    severity_of,
    trajectory,
)

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


# --- Item validation ----------------------------------------------------------------------------


def test_item_tables_match_the_published_instruments() -> None:
    assert ITEM_COUNT == {PHQ9: 9, GAD7: 7, PCL5: 20}
    assert ITEM_MAX == {PHQ9: 3, GAD7: 3, PCL5: 4}


@pytest.mark.parametrize("instrument", list(Instrument))
@pytest.mark.parametrize("delta", [-1, 1], ids=["too few", "too many"])
def test_a_wrong_item_count_is_refused_with_both_counts(instrument: Instrument, delta: int) -> None:
    count = ITEM_COUNT[instrument]
    with pytest.raises(ItemScoresInvalid, match=f"needs {count} item scores, got {count + delta}"):
        score(instrument, [0] * (count + delta))


def test_no_items_at_all_is_refused() -> None:
    with pytest.raises(ItemScoresInvalid, match="needs 9 item scores, got 0"):
        check_items(PHQ9, [])


@pytest.mark.parametrize("instrument", list(Instrument))
@pytest.mark.parametrize("index", [0, 4, -1], ids=["first", "middle", "last"])
@pytest.mark.parametrize("offset", ["below", "above"])
def test_an_item_out_of_range_is_refused_naming_the_item(
    instrument: Instrument, index: int, offset: str
) -> None:
    count, top = ITEM_COUNT[instrument], ITEM_MAX[instrument]
    bad = -1 if offset == "below" else top + 1
    scores = [0] * count
    scores[index] = bad
    position = index % count
    with pytest.raises(ItemScoresInvalid) as raised:
        check_items(instrument, scores)
    assert str(raised.value) == (
        f"{instrument} item {position + 1} (index {position}) is {bad}; "
        f"each item is scored 0 to {top}"
    )
    assert raised.value.item_index == position
    assert raised.value.instrument is instrument


@pytest.mark.parametrize("instrument", list(Instrument))
def test_items_at_zero_and_at_the_maximum_are_accepted(instrument: Instrument) -> None:
    check_items(instrument, [0] * ITEM_COUNT[instrument])
    check_items(instrument, [ITEM_MAX[instrument]] * ITEM_COUNT[instrument])


@pytest.mark.parametrize("value", [True, False])
def test_a_bool_item_is_refused_although_python_counts_it_as_an_int(value: bool) -> None:
    scores: list[int] = [0] * 9
    scores[2] = value
    with pytest.raises(ItemScoresInvalid, match=r"phq9 item 3 \(index 2\) must be an integer"):
        score(PHQ9, scores)


@pytest.mark.parametrize("value", [1.0, "1", None])
def test_a_non_integer_item_is_refused(value: object) -> None:
    scores: list[object] = [0] * 7
    scores[6] = value
    with pytest.raises(ItemScoresInvalid, match=r"gad7 item 7 \(index 6\) must be an integer"):
        score(GAD7, scores)  # type: ignore[arg-type]


def test_an_invalid_item_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="got 8"):
        score(PHQ9, [0] * 8)


# --- PHQ-9 and GAD-7 severity -------------------------------------------------------------------

PHQ9_BANDS = [
    (0, Severity.minimal),
    (4, Severity.minimal),
    (5, Severity.mild),
    (9, Severity.mild),
    (10, Severity.moderate),
    (14, Severity.moderate),
    (15, Severity.moderately_severe),
    (19, Severity.moderately_severe),
    (20, Severity.severe),
    (27, Severity.severe),
]
GAD7_BANDS = [
    (0, Severity.minimal),
    (4, Severity.minimal),
    (5, Severity.mild),
    (9, Severity.mild),
    (10, Severity.moderate),
    (14, Severity.moderate),
    (15, Severity.severe),
    (21, Severity.severe),
]


@pytest.mark.parametrize(("total", "severity"), PHQ9_BANDS)
def test_phq9_bands_follow_kroenke_2001_on_both_sides_of_each_cut(
    total: int, severity: Severity
) -> None:
    scored = score(PHQ9, items(PHQ9, total))
    assert (scored.total, scored.severity) == (total, severity)
    assert scored.probable_ptsd is None
    assert scored.provisional_dsm5 is None


@pytest.mark.parametrize(("total", "severity"), GAD7_BANDS)
def test_gad7_bands_follow_spitzer_2006_on_both_sides_of_each_cut(
    total: int, severity: Severity
) -> None:
    scored = score(GAD7, items(GAD7, total))
    assert (scored.total, scored.severity) == (total, severity)
    assert scored.self_harm_item_positive is False
    assert scored.probable_ptsd is None


def test_severity_of_a_negative_total_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        severity_of(PHQ9, -1)


# --- PHQ-9 item 9 -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [1, 2, 3])
def test_any_answer_to_phq9_item_9_flags_self_harm_even_when_the_total_is_minimal(
    answer: int,
) -> None:
    scored = score(PHQ9, [0] * 8 + [answer])
    assert scored.self_harm_item_positive is True
    assert scored.severity is Severity.minimal


def test_phq9_item_9_at_zero_does_not_flag_even_when_severe() -> None:
    scored = score(PHQ9, [3] * 8 + [0])
    assert scored.severity is Severity.severe
    assert scored.self_harm_item_positive is False


def test_only_phq9_has_a_self_harm_item() -> None:
    assert score(PCL5, [4] * 20).self_harm_item_positive is False
    assert score(GAD7, [3] * 7).self_harm_item_positive is False


# --- PCL-5 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "probable"), [(0, False), (32, False), (33, True), (80, True)])
def test_pcl5_probable_ptsd_at_the_default_cutoff_of_33(total: int, probable: bool) -> None:
    scored = score(PCL5, items(PCL5, total))
    assert scored.total == total
    assert scored.probable_ptsd is probable
    assert scored.severity is None


@pytest.mark.parametrize(("total", "probable"), [(30, False), (31, True)])
def test_pcl5_probable_ptsd_follows_a_clinic_cutoff(total: int, probable: bool) -> None:
    assert score(PCL5, items(PCL5, total), pcl5_cutoff=31).probable_ptsd is probable


def test_pcl5_cutoff_is_taken_as_given_because_the_caller_validates_it() -> None:
    assert score(PCL5, [0] * 20, pcl5_cutoff=0).probable_ptsd is True
    assert score(PCL5, [4] * 20, pcl5_cutoff=81).probable_ptsd is False


def test_pcl5_cutoff_does_not_change_other_instruments() -> None:
    assert score(PHQ9, [3] * 9, pcl5_cutoff=0).probable_ptsd is None


def test_pcl5_dsm5_rule_is_met_by_the_minimum_in_every_cluster() -> None:
    scored = score(PCL5, pcl5_items(b=1, c=1, d=2, e=2))
    assert scored.provisional_dsm5 is True
    assert scored.total == 12
    assert scored.probable_ptsd is False  # the two rules are independent


@pytest.mark.parametrize(
    "endorsed",
    [
        pytest.param({"b": 0, "c": 1, "d": 2, "e": 2}, id="B one short"),
        pytest.param({"b": 1, "c": 0, "d": 2, "e": 2}, id="C one short"),
        pytest.param({"b": 1, "c": 1, "d": 1, "e": 2}, id="D one short"),
        pytest.param({"b": 1, "c": 1, "d": 2, "e": 1}, id="E one short"),
    ],
)
def test_pcl5_dsm5_rule_fails_when_any_cluster_is_one_item_short(endorsed: dict[str, int]) -> None:
    assert score(PCL5, pcl5_items(**endorsed)).provisional_dsm5 is False


def test_pcl5_dsm5_rule_counts_an_item_at_2_and_not_at_1() -> None:
    assert score(PCL5, pcl5_items(1, 1, 2, 2, level=1)).provisional_dsm5 is False
    all_ones = score(PCL5, [1] * 20)
    assert (all_ones.total, all_ones.provisional_dsm5) == (20, False)


@pytest.mark.parametrize(
    ("endorsed_items", "met"),
    [
        pytest.param({5, 6, 8, 14, 15, 20}, True, id="edge items of every cluster"),
        pytest.param({6, 7, 8, 14, 15, 20}, False, id="B empty, item 6 is C"),
        pytest.param({1, 5, 8, 14, 15, 20}, False, id="C empty, items 5 and 8 are B and D"),
        pytest.param({5, 6, 7, 14, 15, 20}, False, id="D short, items 7 and 15 are C and E"),
        pytest.param({5, 6, 8, 13, 14, 20}, False, id="E short, item 14 is D"),
    ],
)
def test_pcl5_dsm5_clusters_end_where_the_dsm5_puts_them(
    endorsed_items: set[int], met: bool
) -> None:
    scores = [4 if item in endorsed_items else 0 for item in range(1, 21)]
    assert score(PCL5, scores).provisional_dsm5 is met


# --- Properties ---------------------------------------------------------------------------------


@st.composite
def item_lists(draw: st.DrawFn, instrument: Instrument) -> list[int]:
    return draw(
        st.lists(
            st.integers(min_value=0, max_value=ITEM_MAX[instrument]),
            min_size=ITEM_COUNT[instrument],
            max_size=ITEM_COUNT[instrument],
        )
    )


@given(data=st.data(), instrument=st.sampled_from(list(Instrument)))
def test_total_is_the_sum_and_severity_never_falls_as_the_total_rises(
    data: st.DataObject, instrument: Instrument
) -> None:
    first = data.draw(item_lists(instrument))
    second = data.draw(item_lists(instrument))
    scored = [score(instrument, first), score(instrument, second)]
    assert [each.total for each in scored] == [sum(first), sum(second)]
    lower, higher = sorted(scored, key=lambda each: each.total)
    if instrument is Instrument.pcl5:
        assert lower.severity is None
        assert higher.severity is None
    else:
        assert lower.severity is not None
        assert higher.severity is not None
        assert RANK[lower.severity] <= RANK[higher.severity]


@pytest.mark.parametrize("instrument", [PHQ9, GAD7])
def test_severity_is_monotonic_over_every_possible_total(instrument: Instrument) -> None:
    top = ITEM_COUNT[instrument] * ITEM_MAX[instrument]
    ranks = [RANK[severity_of(instrument, total) or Severity.minimal] for total in range(top + 1)]
    assert ranks == sorted(ranks)
    assert ranks[0] == RANK[Severity.minimal]
    assert ranks[-1] == RANK[Severity.severe]


# --- Trajectories -------------------------------------------------------------------------------


@pytest.mark.parametrize("instrument", list(Instrument))
def test_no_points_gives_an_empty_trajectory(instrument: Instrument) -> None:
    result = trajectory(instrument, [])
    assert result.instrument is instrument
    assert result.points == ()
    assert [
        result.baseline,
        result.latest,
        result.change,
        result.percent_change,
        result.response,
        result.remission,
        result.clinically_meaningful_change,
    ] == [None] * 7


def test_a_single_point_is_both_baseline_and_latest_with_no_change() -> None:
    only = point(0, 12)
    result = trajectory(PHQ9, [only])
    assert result.baseline == result.latest == only
    assert (result.change, result.percent_change) == (0, 0.0)
    assert (result.response, result.remission) == (False, False)
    assert result.clinically_meaningful_change is None
    assert result.points == (only,)


def test_a_single_pcl5_point_has_no_meaningful_change() -> None:
    result = trajectory(PCL5, [point(0, 50)])
    assert (result.change, result.clinically_meaningful_change, result.response) == (
        0,
        False,
        False,
    )
    assert result.remission is False


@pytest.mark.parametrize("instrument", [PHQ9, GAD7])
@pytest.mark.parametrize(
    ("baseline", "latest", "response", "percent"),
    [
        pytest.param(20, 10, True, -50.0, id="exactly 50 %"),
        pytest.param(14, 7, True, -50.0, id="exactly 50 % of 14"),
        pytest.param(21, 11, False, -47.6, id="47.6 %"),
        pytest.param(15, 8, False, -46.7, id="one point short of half of 15"),
        pytest.param(15, 7, True, -53.3, id="53.3 %"),
        pytest.param(10, 12, False, 20.0, id="worse"),
    ],
)
def test_response_is_a_reduction_of_at_least_half(
    instrument: Instrument, baseline: int, latest: int, response: bool, percent: float
) -> None:
    result = trajectory(instrument, [point(0, baseline), point(56, latest)])
    assert result.response is response
    assert result.change == latest - baseline
    assert result.percent_change == percent
    assert result.clinically_meaningful_change is None


def test_response_just_under_half_on_the_largest_phq9_baseline() -> None:
    result = trajectory(PHQ9, [point(0, 27), point(56, 14)])
    assert (result.response, result.percent_change) == (False, -48.1)
    assert trajectory(PHQ9, [point(0, 27), point(56, 13)]).response is True


@pytest.mark.parametrize("instrument", [PHQ9, GAD7])
@pytest.mark.parametrize(("latest", "remission"), [(0, True), (4, True), (5, False)])
def test_remission_is_a_latest_total_below_5(
    instrument: Instrument, latest: int, remission: bool
) -> None:
    assert trajectory(instrument, [point(0, 18), point(56, latest)]).remission is remission


@pytest.mark.parametrize("instrument", [PHQ9, GAD7])
def test_a_zero_baseline_has_no_response_or_percent(instrument: Instrument) -> None:
    result = trajectory(instrument, [point(0, 0), point(56, 3)])
    assert (result.change, result.percent_change, result.response) == (3, None, None)
    assert result.remission is True


def test_percent_change_rounds_a_half_away_from_zero() -> None:
    assert trajectory(PCL5, [point(0, 16), point(7, 15)]).percent_change == -6.3
    assert trajectory(PCL5, [point(0, 16), point(7, 17)]).percent_change == 6.3
    assert trajectory(PHQ9, [point(0, 3), point(7, 2)]).percent_change == -33.3


@pytest.mark.parametrize(
    ("latest", "response", "meaningful"),
    [
        (40, True, True),
        (41, True, False),
        (45, True, False),
        (46, False, False),
        (55, False, False),
    ],
)
def test_pcl5_a_drop_of_5_is_a_response_and_of_10_is_meaningful(
    latest: int, response: bool, meaningful: bool
) -> None:
    result = trajectory(PCL5, [point(0, 50), point(56, latest)])
    assert result.clinically_meaningful_change is meaningful
    assert result.response is response
    assert result.change == latest - 50


@pytest.mark.parametrize(("latest", "remission"), [(32, True), (33, False)])
def test_pcl5_remission_is_below_the_default_cutoff(latest: int, remission: bool) -> None:
    assert trajectory(PCL5, [point(0, 60), point(56, latest)]).remission is remission


@pytest.mark.parametrize(("latest", "remission"), [(27, True), (28, False)])
def test_pcl5_remission_follows_a_clinic_cutoff(latest: int, remission: bool) -> None:
    result = trajectory(PCL5, [point(0, 60), point(56, latest)], pcl5_cutoff=28)
    assert result.remission is remission


def test_pcl5_with_a_zero_baseline_has_no_percent_but_still_a_change() -> None:
    result = trajectory(PCL5, [point(0, 0), point(7, 12)])
    assert (result.change, result.percent_change, result.response) == (12, None, False)


def test_points_are_put_in_order_and_the_ends_are_earliest_and_most_recent() -> None:
    first, middle, last = point(0, 20), point(14, 15), point(28, 9)
    result = trajectory(PHQ9, [middle, last, first])
    assert result.points == (first, middle, last)
    assert (result.baseline, result.latest) == (first, last)
    assert result.change == -11


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
