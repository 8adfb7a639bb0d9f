"""The window rule as pure functions: where a dose's window opens and closes, to the microsecond."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.clinics.models import Clinic
from app.sessions.enums import Route, SessionStatus
from app.windows.policy import WindowPolicy
from app.windows.rules import (
    IntegrationStatus,
    WindowStatus,
    dose_window,
    evaluate_dose,
    evaluate_integration,
)
from tests.windows.rules_support import (
    DEFAULT,
    END,
    HOUR,
    MICRO,
    NEW_YORK,
    SECOND,
    START,
    a_dose,
    an_integration,
    policy,
    status_at,
)

# --- Policy -------------------------------------------------------------------------------------


def test_default_policy_matches_the_contract() -> None:
    assert DEFAULT.opens_after_s == 0
    assert DEFAULT.closing_soon_s == 24 * 3600
    assert {route.value: s / 3600 for route, s in DEFAULT.closes_after_s.items()} == {
        "iv": 72,
        "im": 72,
        "intranasal": 72,
        "sublingual": 168,
        "oral": 168,
    }


def test_policy_reads_every_route_from_its_own_clinic_column() -> None:
    clinic = Clinic(
        window_opens_after_s=1,
        window_closes_iv_s=2,
        window_closes_im_s=3,
        window_closes_intranasal_s=4,
        window_closes_sublingual_s=5,
        window_closes_oral_s=6,
        closing_soon_s=7,
    )
    read = WindowPolicy.from_clinic(clinic)
    assert read.opens_after == timedelta(seconds=1)
    assert [read.closes_after(route) for route in Route] == [
        timedelta(seconds=s)
        for s in (
            2,  # iv
            3,  # im
            5,  # sublingual
            6,  # oral
            4,  # intranasal
        )
    ]
    assert read.closing_soon_s == 7


# --- Boundaries ---------------------------------------------------------------------------------


def test_both_boundaries_are_inclusive_to_the_second() -> None:
    dose = a_dose()
    window = dose_window(dose, DEFAULT)
    assert window.opens_at == END
    assert window.closes_at == END + timedelta(hours=72)

    assert status_at(END - SECOND, dose) is WindowStatus.before_window
    assert status_at(END, dose) is WindowStatus.in_window
    assert status_at(END + SECOND, dose) is WindowStatus.in_window
    assert status_at(window.closes_at - SECOND, dose) is WindowStatus.in_window
    assert status_at(window.closes_at, dose) is WindowStatus.in_window
    assert status_at(window.closes_at + SECOND, dose) is WindowStatus.after_window


def test_boundaries_hold_to_the_microsecond() -> None:
    dose = a_dose(ends_at=END + timedelta(microseconds=123_457))
    window = dose_window(dose, DEFAULT)
    assert status_at(window.opens_at - MICRO, dose) is WindowStatus.before_window
    assert status_at(window.opens_at, dose) is WindowStatus.in_window
    assert status_at(window.closes_at, dose) is WindowStatus.in_window
    assert status_at(window.closes_at + MICRO, dose) is WindowStatus.after_window


def test_a_non_zero_opens_after_moves_the_opening_boundary() -> None:
    rule = policy(opens_after_s=6 * 3600)
    dose = a_dose()
    window = dose_window(dose, rule)
    assert window.opens_at == END + timedelta(hours=6)
    assert window.closes_at == END + timedelta(hours=72), "closing is measured from T(K) too"

    assert status_at(END, dose, rule) is WindowStatus.before_window
    assert status_at(window.opens_at - SECOND, dose, rule) is WindowStatus.before_window
    assert status_at(window.opens_at, dose, rule) is WindowStatus.in_window
    assert status_at(window.closes_at, dose, rule) is WindowStatus.in_window
    assert status_at(window.closes_at + SECOND, dose, rule) is WindowStatus.after_window

    early = evaluate_integration(an_integration(window.opens_at - SECOND), [dose], rule)
    assert early.hours_after_dose == 6.0  # 5:59:59 rounds to 6.00 but stays before the window
    assert early.opens_at == window.opens_at
    assert early.closes_at == window.closes_at


def test_policy_offsets_with_odd_seconds() -> None:
    rule = policy(opens_after_s=1, iv=1 / 3600 * 7)  # opens 1 s, closes 7 s after the dose
    dose = a_dose()
    assert status_at(END, dose, rule) is WindowStatus.before_window
    assert status_at(END + SECOND, dose, rule) is WindowStatus.in_window
    assert status_at(END + 7 * SECOND, dose, rule) is WindowStatus.in_window
    assert status_at(END + 7 * SECOND + MICRO, dose, rule) is WindowStatus.after_window


# --- The anchor time T(K) ----------------------------------------------------------------------


def test_a_dose_not_ended_yet_anchors_on_its_scheduled_end() -> None:
    dose = a_dose(START, START + timedelta(hours=3))  # scheduled, in the future, no ended_at
    assert dose.anchor_time == START + timedelta(hours=3)
    evaluation = evaluate_integration(an_integration(START + timedelta(hours=4)), [dose], DEFAULT)
    assert evaluation.opens_at == START + timedelta(hours=3)
    assert evaluation.closes_at == START + timedelta(hours=75)
    assert evaluation.hours_after_dose == 1.0


def test_a_recorded_end_moves_the_window() -> None:
    scheduled = a_dose()
    late_integration = an_integration(END + timedelta(hours=71, minutes=30))
    assert evaluate_integration(late_integration, [scheduled], DEFAULT).status is (
        WindowStatus.in_window
    )

    ended_early = a_dose(dose_id=scheduled.id, status=SessionStatus.completed, ended_at=END - HOUR)
    evaluation = evaluate_integration(late_integration, [ended_early], DEFAULT)
    assert evaluation.status is WindowStatus.after_window
    assert evaluation.opens_at == END - HOUR
    assert evaluation.closes_at == END + timedelta(hours=71)
    assert evaluation.hours_after_dose == 72.5

    ran_over = a_dose(dose_id=scheduled.id, status=SessionStatus.completed, ended_at=END + HOUR)
    right_after_schedule = an_integration(END + timedelta(minutes=30))
    evaluation = evaluate_integration(right_after_schedule, [ran_over], DEFAULT)
    assert evaluation.status is WindowStatus.before_window
    assert evaluation.hours_after_dose == -0.5


def test_recorded_end_with_microseconds_is_the_exact_anchor() -> None:
    ended = END - timedelta(minutes=17, microseconds=250)
    dose = a_dose(status=SessionStatus.completed, ended_at=ended)
    window = dose_window(dose, DEFAULT)
    assert window.opens_at == ended
    assert window.closes_at == ended + timedelta(hours=72)
    assert status_at(ended - MICRO, dose) is WindowStatus.before_window
    assert status_at(ended + timedelta(hours=72), dose) is WindowStatus.in_window
    assert status_at(ended + timedelta(hours=72) + MICRO, dose) is WindowStatus.after_window


# --- Routes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "hours"),
    [
        (Route.iv, 72),
        (Route.im, 72),
        (Route.intranasal, 72),
        (Route.sublingual, 168),
        (Route.oral, 168),
    ],
)
def test_each_route_closes_after_its_own_hours(route: Route, hours: int) -> None:
    dose = a_dose(route=route)
    closes = END + timedelta(hours=hours)
    assert dose_window(dose, DEFAULT).closes_at == closes
    assert status_at(closes, dose) is WindowStatus.in_window
    assert status_at(closes + SECOND, dose) is WindowStatus.after_window


def test_iv_and_sublingual_differ_on_the_same_day() -> None:
    at_100h = END + timedelta(hours=100)
    assert status_at(at_100h, a_dose(route=Route.iv)) is WindowStatus.after_window
    assert status_at(at_100h, a_dose(route=Route.sublingual)) is WindowStatus.in_window


def test_a_changed_route_policy_applies_only_to_that_route() -> None:
    rule = policy(iv=96)
    at_80h = END + timedelta(hours=80)
    assert status_at(at_80h, a_dose(route=Route.iv), rule) is WindowStatus.in_window
    assert status_at(at_80h, a_dose(route=Route.im), rule) is WindowStatus.after_window


# --- Daylight saving time -----------------------------------------------------------------------


def test_a_window_across_the_spring_forward_change_is_72_elapsed_hours() -> None:
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: the local clock loses an hour.
    ended_local = datetime(2026, 3, 7, 20, 0, tzinfo=NEW_YORK)
    assert ended_local.utcoffset() == timedelta(hours=-5)
    dose = a_dose(
        ended_local - timedelta(hours=2),
        ended_local,
        route=Route.iv,
        status=SessionStatus.completed,
    )
    window = dose_window(dose, DEFAULT)

    assert window.opens_at == datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
    assert window.closes_at == datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    assert window.closes_at - window.opens_at == timedelta(hours=72)
    local_close = window.closes_at.astimezone(NEW_YORK)
    assert local_close.isoformat() == "2026-03-10T21:00:00-04:00"
    assert (local_close.hour, local_close.utcoffset()) == (21, timedelta(hours=-4))

    # 21:00 local on the 10th is the last in-window instant; the wall-clock "same time 3 days
    # later" (20:00) is an hour early and 21:00:01 is after the window.
    last = datetime(2026, 3, 10, 21, 0, tzinfo=NEW_YORK)
    assert status_at(last, dose) is WindowStatus.in_window
    assert status_at(last + SECOND, dose) is WindowStatus.after_window
    wall_clock = datetime(2026, 3, 10, 20, 0, tzinfo=NEW_YORK)
    evaluation = evaluate_integration(an_integration(wall_clock), [dose], DEFAULT)
    assert evaluation.status is WindowStatus.in_window
    assert evaluation.hours_after_dose == 71.0

    # Missed flips at the same absolute instant.
    assert evaluate_dose(dose, [], [dose], DEFAULT, last).status is IntegrationStatus.unbooked
    assert evaluate_dose(dose, [], [dose], DEFAULT, last + MICRO).status is (
        IntegrationStatus.missed
    )


def test_a_window_across_the_fall_back_change_is_168_elapsed_hours() -> None:
    # 2026-11-01 02:00 EDT falls back to 01:00 EST: the local clock gains an hour.
    ended_local = datetime(2026, 10, 30, 12, 0, tzinfo=NEW_YORK)
    dose = a_dose(ended_local - HOUR, ended_local, route=Route.sublingual)
    window = dose_window(dose, DEFAULT)
    assert window.closes_at == datetime(2026, 11, 6, 16, 0, tzinfo=UTC)
    assert window.closes_at.astimezone(NEW_YORK).isoformat() == "2026-11-06T11:00:00-05:00"
    assert status_at(datetime(2026, 11, 6, 11, 0, tzinfo=NEW_YORK), dose) is (
        WindowStatus.in_window
    )
    assert status_at(datetime(2026, 11, 6, 11, 0, 1, tzinfo=NEW_YORK), dose) is (
        WindowStatus.after_window
    )


def test_offsets_in_the_input_do_not_change_the_instant() -> None:
    dose = a_dose(START.astimezone(NEW_YORK), END.astimezone(NEW_YORK))
    utc_dose = a_dose(START, END, dose_id=dose.id)
    assert dose_window(dose, DEFAULT) == dose_window(utc_dose, DEFAULT)


# --- Invariants on generated inputs -------------------------------------------------------------


@given(
    offset_us=st.integers(min_value=-400 * 3600 * 10**6, max_value=400 * 3600 * 10**6),
    opens_after_s=st.integers(min_value=0, max_value=48 * 3600),
    extra_s=st.integers(min_value=1, max_value=300 * 3600),
    route=st.sampled_from(list(Route)),
    ended_early_us=st.none() | st.integers(min_value=-3600 * 10**6, max_value=3600 * 10**6),
)
def test_status_follows_the_offset_from_the_anchor(
    offset_us: int,
    opens_after_s: int,
    extra_s: int,
    route: Route,
    ended_early_us: int | None,
) -> None:
    closes = dict.fromkeys(Route, opens_after_s + extra_s)
    rule = WindowPolicy(opens_after_s=opens_after_s, closes_after_s=closes, closing_soon_s=0)
    ended_at = None if ended_early_us is None else END + timedelta(microseconds=ended_early_us)
    dose = a_dose(route=route, status=SessionStatus.completed, ended_at=ended_at)
    anchor = ended_at or END
    offset = timedelta(microseconds=offset_us)
    evaluation = evaluate_integration(an_integration(anchor + offset, linked_to=dose), [dose], rule)

    if offset < timedelta(seconds=opens_after_s):
        expected = WindowStatus.before_window
    elif offset <= timedelta(seconds=opens_after_s + extra_s):
        expected = WindowStatus.in_window
    else:
        expected = WindowStatus.after_window
    assert evaluation.status is expected
    assert evaluation.linked is True
    assert evaluation.hours_after_dose == round(offset_us / 3_600_000_000, 2)
    assert evaluation.opens_at == anchor + timedelta(seconds=opens_after_s)
    assert evaluation.closes_at == anchor + timedelta(seconds=opens_after_s + extra_s)
