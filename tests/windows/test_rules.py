"""The window rule (docs/architecture.md) as pure functions: no database, no clock.

Every instant here is an aware datetime; boundaries are checked to the second and, where it
matters, to the microsecond.
"""

import math
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sessions.enums import Route, SessionStatus
from app.windows.policy import DEFAULT_CLOSES_AFTER_HOURS, WindowPolicy
from app.windows.rules import (
    DoseFacts,
    IntegrationFacts,
    IntegrationStatus,
    IntegrationWindow,
    WindowStatus,
    dose_window,
    evaluate_dose,
    evaluate_integration,
    find_anchor,
)

DEFAULT = WindowPolicy.default()
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)
HOUR = timedelta(hours=1)
NEW_YORK = ZoneInfo("America/New_York")


def a_dose(
    starts_at: datetime = START,
    ends_at: datetime | None = None,
    *,
    route: Route = Route.iv,
    status: SessionStatus = SessionStatus.scheduled,
    ended_at: datetime | None = None,
    dose_id: uuid.UUID | None = None,
) -> DoseFacts:
    return DoseFacts(
        id=dose_id or uuid.uuid4(),
        status=status,
        route=route,
        starts_at=starts_at,
        ends_at=ends_at if ends_at is not None else starts_at + timedelta(hours=2),
        ended_at=ended_at,
    )


def an_integration(
    starts_at: datetime,
    *,
    status: SessionStatus = SessionStatus.scheduled,
    linked_to: DoseFacts | uuid.UUID | None = None,
) -> IntegrationFacts:
    link = linked_to.id if isinstance(linked_to, DoseFacts) else linked_to
    return IntegrationFacts(
        id=uuid.uuid4(), status=status, starts_at=starts_at, ketamine_session_id=link
    )


def policy(opens_after_s: int = 0, **closes_after_h: float) -> WindowPolicy:
    closes = {route: hours * 3600 for route, hours in DEFAULT_CLOSES_AFTER_HOURS.items()}
    for name, hours in closes_after_h.items():
        closes[Route(name)] = round(hours * 3600)
    return WindowPolicy(opens_after_s=opens_after_s, closes_after_s=closes, closing_soon_s=86400)


def status_at(starts_at: datetime, dose: DoseFacts, rule: WindowPolicy = DEFAULT) -> WindowStatus:
    return evaluate_integration(an_integration(starts_at), [dose], rule).status


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
    class Columns:
        window_opens_after_s = 1
        window_closes_iv_s = 2
        window_closes_im_s = 3
        window_closes_intranasal_s = 4
        window_closes_sublingual_s = 5
        window_closes_oral_s = 6
        closing_soon_s = 7

    read = WindowPolicy.from_clinic(Columns())
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


# --- K.integration ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [SessionStatus.cancelled, SessionStatus.no_show])
def test_a_dose_that_does_not_anchor_is_not_applicable(status: SessionStatus) -> None:
    dose = a_dose(status=status)
    integration = an_integration(END + HOUR)
    result = evaluate_dose(dose, [integration], [dose], DEFAULT, now=START)
    assert result.status is IntegrationStatus.not_applicable
    assert result.window_opens_at is None
    assert result.window_closes_at is None
    assert result.integration_session_ids == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (SessionStatus.scheduled, IntegrationStatus.booked_in_window),
        (SessionStatus.completed, IntegrationStatus.booked_in_window),
        (SessionStatus.cancelled, IntegrationStatus.unbooked),
        (SessionStatus.no_show, IntegrationStatus.unbooked),
    ],
)
def test_only_scheduled_or_completed_integration_books_the_window(
    status: SessionStatus, expected: IntegrationStatus
) -> None:
    dose = a_dose(status=SessionStatus.completed)
    integration = an_integration(END + timedelta(hours=24), status=status)
    result = evaluate_dose(dose, [integration], [dose], DEFAULT, now=END + HOUR)
    assert result.status is expected
    assert result.window_opens_at == END
    assert result.window_closes_at == END + timedelta(hours=72)
    counted = expected is IntegrationStatus.booked_in_window
    assert result.integration_session_ids == ([integration.id] if counted else [])


def test_integration_outside_the_window_does_not_book_it_but_is_listed() -> None:
    rule = policy(opens_after_s=3600)
    dose = a_dose(status=SessionStatus.completed)
    too_early = an_integration(END + timedelta(minutes=30))
    too_late = an_integration(END + timedelta(hours=73))
    result = evaluate_dose(dose, [too_early, too_late], [dose], rule, now=END)
    assert result.status is IntegrationStatus.unbooked
    assert sorted(result.integration_session_ids) == sorted([too_early.id, too_late.id])


def test_integration_anchored_on_another_dose_does_not_book_this_one() -> None:
    first = a_dose(START, status=SessionStatus.completed)
    second = a_dose(START + timedelta(days=1), status=SessionStatus.completed)
    integration = an_integration(second.ends_at + HOUR)  # in both windows, anchored on second
    doses = [first, second]
    now = second.ends_at + 2 * HOUR
    assert evaluate_dose(first, [integration], doses, DEFAULT, now).status is (
        IntegrationStatus.unbooked
    )
    assert evaluate_dose(second, [integration], doses, DEFAULT, now).status is (
        IntegrationStatus.booked_in_window
    )

    # An explicit link hands it to the first dose instead.
    linked = an_integration(second.ends_at + HOUR, linked_to=first)
    assert evaluate_dose(first, [linked], doses, DEFAULT, now).status is (
        IntegrationStatus.booked_in_window
    )
    assert evaluate_dose(second, [linked], doses, DEFAULT, now).status is (
        IntegrationStatus.unbooked
    )


def test_unbooked_turns_missed_exactly_after_the_window_closes() -> None:
    dose = a_dose(status=SessionStatus.completed)
    closes = END + timedelta(hours=72)

    def at(now: datetime) -> IntegrationStatus:
        return evaluate_dose(dose, [], [dose], DEFAULT, now).status

    assert at(START - timedelta(days=3)) is IntegrationStatus.unbooked  # before the dose even
    assert at(END) is IntegrationStatus.unbooked
    assert at(closes - SECOND) is IntegrationStatus.unbooked
    assert at(closes) is IntegrationStatus.unbooked
    assert at(closes + MICRO) is IntegrationStatus.missed
    assert at(closes + SECOND) is IntegrationStatus.missed


def test_a_booked_window_stays_booked_after_it_closes() -> None:
    dose = a_dose(status=SessionStatus.completed)
    done = an_integration(END + timedelta(hours=48), status=SessionStatus.completed)
    later = END + timedelta(days=30)
    assert evaluate_dose(dose, [done], [dose], DEFAULT, later).status is (
        IntegrationStatus.booked_in_window
    )


def test_booking_at_the_exact_boundaries_books_the_window() -> None:
    dose = a_dose(route=Route.sublingual)
    closes = END + timedelta(hours=168)
    for at in (END, closes):
        result = evaluate_dose(dose, [an_integration(at)], [dose], DEFAULT, now=START)
        assert result.status is IntegrationStatus.booked_in_window
    for at in (END - SECOND, closes + SECOND):
        result = evaluate_dose(dose, [an_integration(at)], [dose], DEFAULT, now=START)
        assert result.status is IntegrationStatus.unbooked


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
