"""Scale scoring as pure functions: item lists of the wrong length, range or type are refused."""

import pytest

from app.assessments.scoring import (
    ITEM_COUNT,
    ITEM_MAX,
    Instrument,
    ItemScoresInvalid,
    check_items,
    score,
)
from tests.assessments.scoring_support import GAD7, PCL5, PHQ9

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
