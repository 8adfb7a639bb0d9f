"""Parsing FHIR search values (app/fhir/search.py): date precision as a range, prefixes,
tokens, `_count`, and which parameters a strict search refuses."""

from datetime import UTC, datetime

import pytest

from app.fhir.exceptions import InvalidSearch, UnknownSearchParameter
from app.fhir.search import MAX_COUNT, Token, date_range, is_strict, parse, token


@pytest.mark.parametrize(
    ("value", "prefix", "start", "end"),
    [
        ("2026", "eq", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("ge2026-12", "ge", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("lt2028-02", "lt", datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC)),
        (
            "ne2026-10-01",
            "ne",
            datetime(2026, 10, 1, tzinfo=UTC),
            datetime(2026, 10, 2, tzinfo=UTC),
        ),
        (
            "2026-10-01T10:30",
            "eq",
            datetime(2026, 10, 1, 10, 30, tzinfo=UTC),
            datetime(2026, 10, 1, 10, 31, tzinfo=UTC),
        ),
        (
            "gt2026-10-01T10:30:15+02:00",
            "gt",
            datetime(2026, 10, 1, 8, 30, 15, tzinfo=UTC),
            datetime(2026, 10, 1, 8, 30, 16, tzinfo=UTC),
        ),
        (
            "le2026-10-01T10:30:15.5Z",
            "le",
            datetime(2026, 10, 1, 10, 30, 15, 500000, tzinfo=UTC),
            datetime(2026, 10, 1, 10, 30, 15, 500001, tzinfo=UTC),
        ),
    ],
)
def test_a_date_is_the_range_of_its_precision(
    value: str, prefix: str, start: datetime, end: datetime
) -> None:
    found = date_range(value)

    assert (found.prefix, found.start, found.end) == (prefix, start, end)


@pytest.mark.parametrize(
    "value", ["", "26", "2026-13", "2026-02-30", "sa2026", "ap2026", "2026-10-01T25:00", "today"]
)
def test_a_bad_date_is_refused(value: str) -> None:
    with pytest.raises(InvalidSearch):
        date_range(value)


def test_tokens_keep_the_system_when_given() -> None:
    assert token("8867-4") == Token(None, "8867-4")
    assert token("|8867-4") == Token("", "8867-4")
    assert token("http://loinc.org|8867-4") == Token("http://loinc.org", "8867-4")


def test_count_is_capped_and_zero_asks_for_the_total() -> None:
    assert parse("Patient", [("_count", "100000")], strict=False).count == MAX_COUNT
    zero = parse("Patient", [("_count", "0")], strict=False)
    assert zero.summary_count
    with pytest.raises(InvalidSearch):
        parse("Patient", [("_count", "-1")], strict=False)


def test_unknown_parameters_are_dropped_unless_strict() -> None:
    items = [("name", "may"), ("name:exact", "May"), ("colour", "blue")]

    lenient = parse("Patient", items, strict=False)

    assert lenient.applied == {"name": ["may"]}
    assert lenient.query() == "name=may"
    with pytest.raises(UnknownSearchParameter):
        parse("Patient", items, strict=True)
    assert is_strict("return=minimal, handling=strict")
    assert is_strict("handling = strict")
    assert not is_strict("handling=lenient")
    assert not is_strict(None)
