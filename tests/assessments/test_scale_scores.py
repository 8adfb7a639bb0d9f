"""Scale scoring as pure functions: every published cut-off on both sides, PHQ-9 item 9, PCL-5."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assessments.scoring import (
    ITEM_COUNT,
    ITEM_MAX,
    Instrument,
    Severity,
    score,
    severity_of,
)
from tests.assessments.scoring_support import GAD7, PCL5, PHQ9, RANK, items, pcl5_items

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
