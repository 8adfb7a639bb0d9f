"""The window rule as pure functions: which dose anchors a session, and its hours_after_dose."""

import math
import uuid
from datetime import timedelta

import pytest

from app.sessions.enums import Route, SessionStatus
from app.windows.rules import (
    DoseFacts,
    IntegrationWindow,
    WindowStatus,
    evaluate_integration,
    find_anchor,
)
from tests.windows.rules_support import (
    DEFAULT,
    END,
    HOUR,
    MICRO,
    SECOND,
    START,
    a_dose,
    an_integration,
)

# --- Which dose anchors -------------------------------------------------------------------------


def test_linked_and_inferred_anchors() -> None:
    first = a_dose(START)
    second = a_dose(START + timedelta(days=2))
    at = START + timedelta(days=3)

    inferred = evaluate_integration(an_integration(at), [first, second], DEFAULT)
    assert inferred.ketamine_session_id == second.id
    assert inferred.linked is False

    linked = evaluate_integration(an_integration(at, linked_to=first), [first, second], DEFAULT)
    assert linked.ketamine_session_id == first.id
    assert linked.linked is True
    assert linked.opens_at == first.ends_at
    assert linked.hours_after_dose == round((at - first.ends_at) / HOUR, 2)


def test_a_link_to_a_later_dose_is_before_its_window_with_negative_hours() -> None:
    earlier = a_dose(START)
    later = a_dose(START + timedelta(days=5))
    integration = an_integration(START + timedelta(days=1), linked_to=later)
    evaluation = evaluate_integration(integration, [earlier, later], DEFAULT)
    assert evaluation.ketamine_session_id == later.id
    assert evaluation.linked is True
    assert evaluation.status is WindowStatus.before_window
    assert evaluation.hours_after_dose == -98.0  # day 1 09:00 to day 5 11:00


@pytest.mark.parametrize("status", [SessionStatus.cancelled, SessionStatus.no_show])
def test_a_link_to_a_dose_that_does_not_anchor_falls_back_to_the_inferred_one(
    status: SessionStatus,
) -> None:
    earlier = a_dose(START, status=SessionStatus.completed)
    dead = a_dose(START + timedelta(days=1), status=status)
    integration = an_integration(START + timedelta(days=2), linked_to=dead)
    evaluation = evaluate_integration(integration, [earlier, dead], DEFAULT)
    assert evaluation.ketamine_session_id == earlier.id
    assert evaluation.linked is False
    assert evaluation.status is WindowStatus.in_window


def test_a_link_to_a_cancelled_dose_with_nothing_else_has_no_anchor() -> None:
    dead = a_dose(START, status=SessionStatus.cancelled)
    integration = an_integration(START + timedelta(days=1), linked_to=dead)
    assert evaluate_integration(integration, [dead], DEFAULT) == IntegrationWindow(
        status=WindowStatus.no_ketamine_session
    )


def test_a_link_to_an_unknown_dose_is_ignored() -> None:
    dose = a_dose(START)
    integration = an_integration(END + HOUR, linked_to=uuid.uuid4())
    evaluation = evaluate_integration(integration, [dose], DEFAULT)
    assert (evaluation.ketamine_session_id, evaluation.linked) == (dose.id, False)


def test_a_series_of_doses_anchors_on_the_latest_one_started() -> None:
    doses = [
        a_dose(START + timedelta(days=7 * n), status=SessionStatus.completed) for n in range(3)
    ]
    after_second = an_integration(doses[1].ends_at + timedelta(days=1))
    evaluation = evaluate_integration(after_second, doses, DEFAULT)
    assert evaluation.ketamine_session_id == doses[1].id
    assert evaluation.hours_after_dose == 24.0
    # Shuffling the input must not matter.
    assert evaluate_integration(after_second, list(reversed(doses)), DEFAULT) == evaluation

    # Starting exactly when the third dose starts (≤) anchors on the third dose.
    at_third = an_integration(doses[2].starts_at)
    evaluation = evaluate_integration(at_third, doses, DEFAULT)
    assert evaluation.ketamine_session_id == doses[2].id
    assert evaluation.status is WindowStatus.before_window
    assert evaluation.hours_after_dose == -2.0

    # One microsecond earlier it is still the second dose's, and long past its window.
    evaluation = evaluate_integration(an_integration(doses[2].starts_at - MICRO), doses, DEFAULT)
    assert evaluation.ketamine_session_id == doses[1].id
    assert evaluation.status is WindowStatus.after_window


def test_a_cancelled_dose_in_a_series_is_skipped() -> None:
    first = a_dose(START, status=SessionStatus.completed)
    second = a_dose(START + timedelta(days=2), status=SessionStatus.cancelled)
    third = a_dose(START + timedelta(days=2, hours=3), status=SessionStatus.no_show)
    integration = an_integration(START + timedelta(days=2, hours=6))
    evaluation = evaluate_integration(integration, [first, second, third], DEFAULT)
    assert evaluation.ketamine_session_id == first.id
    assert evaluation.status is WindowStatus.in_window


def test_doses_starting_at_the_same_instant_break_the_tie_by_id() -> None:
    low, high = sorted([uuid.uuid4(), uuid.uuid4()])
    one = a_dose(START, dose_id=low, route=Route.sublingual)
    other = a_dose(START, dose_id=high, route=Route.iv)
    integration = an_integration(END + timedelta(hours=100))
    for order in ([one, other], [other, one]):
        anchor, linked = find_anchor(integration, order)
        assert anchor is other
        assert linked is False
    assert evaluate_integration(integration, [one, other], DEFAULT).status is (
        WindowStatus.after_window
    )


@pytest.mark.parametrize(
    "doses",
    [
        pytest.param([], id="no doses"),
        pytest.param(
            [
                a_dose(START, status=SessionStatus.cancelled),
                a_dose(START, status=SessionStatus.no_show),
            ],
            id="only cancelled or no-show doses",
        ),
        pytest.param([a_dose(START + timedelta(days=1))], id="only later doses"),
    ],
)
def test_no_anchor_means_no_ketamine_session_with_null_fields(doses: list[DoseFacts]) -> None:
    evaluation = evaluate_integration(an_integration(END + HOUR), doses, DEFAULT)
    assert evaluation.status is WindowStatus.no_ketamine_session
    assert evaluation.ketamine_session_id is None
    assert evaluation.linked is False
    assert evaluation.hours_after_dose is None
    assert evaluation.opens_at is None
    assert evaluation.closes_at is None


# --- hours_after_dose ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "hours"),
    [
        (timedelta(0), 0.0),
        (timedelta(seconds=1), 0.0),
        (timedelta(seconds=45), 0.01),  # 0.0125
        (timedelta(minutes=20), 0.33),
        (timedelta(minutes=40), 0.67),
        (timedelta(hours=1, minutes=30), 1.5),
        (timedelta(hours=71, minutes=59, seconds=59), 72.0),
        (timedelta(hours=72), 72.0),
        (timedelta(days=30, minutes=1), 720.02),
        (-timedelta(minutes=20), -0.33),
        (-timedelta(minutes=30), -0.5),
        (-timedelta(hours=25, minutes=40), -25.67),
    ],
)
def test_hours_after_dose_is_rounded_to_two_decimals(offset: timedelta, hours: float) -> None:
    dose = a_dose(START, route=Route.oral)
    linked = an_integration(END + offset, linked_to=dose)
    evaluation = evaluate_integration(linked, [dose], DEFAULT)
    assert evaluation.hours_after_dose == hours
    assert evaluation.hours_after_dose is not None
    assert (evaluation.hours_after_dose < 0) == (hours < 0)


@pytest.mark.parametrize("offset", [-SECOND, -timedelta(seconds=17), -MICRO])
def test_a_negative_offset_that_rounds_to_zero_is_plain_zero(offset: timedelta) -> None:
    dose = a_dose()
    evaluation = evaluate_integration(an_integration(END + offset, linked_to=dose), [dose], DEFAULT)
    assert evaluation.status is WindowStatus.before_window
    hours = evaluation.hours_after_dose
    assert hours == 0.0
    assert hours is not None
    assert math.copysign(1.0, hours) == 1.0, "no -0.0 in the API"


def test_hours_after_dose_is_measured_from_the_recorded_end() -> None:
    dose = a_dose(status=SessionStatus.completed, ended_at=END - timedelta(minutes=45))
    evaluation = evaluate_integration(an_integration(END + HOUR), [dose], DEFAULT)
    assert evaluation.hours_after_dose == 1.75
