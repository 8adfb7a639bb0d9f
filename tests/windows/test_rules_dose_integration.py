"""The window rule as pure functions: a dose's integration status (booked, unbooked, missed)."""

from datetime import datetime, timedelta

import pytest

from app.sessions.enums import Route, SessionStatus
from app.windows.rules import (
    IntegrationStatus,
    evaluate_dose,
    integration_anchors,
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
    policy,
)

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


def test_a_doses_integrations_are_listed_in_time_order_whatever_order_they_come_in() -> None:
    dose = a_dose(status=SessionStatus.completed)
    first, second = an_integration(END + HOUR), an_integration(END + 2 * HOUR)
    tied = an_integration(END + 2 * HOUR)  # the same start: the id decides
    in_time_order = [first.id, *sorted([second.id, tied.id])]
    for integrations in ([tied, second, first], [second, first, tied], [first, second, tied]):
        result = evaluate_dose(dose, integrations, [dose], DEFAULT, now=END)
        assert result.integration_session_ids == in_time_order


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


def test_a_page_of_doses_finds_anchors_once_with_the_same_result() -> None:
    """`integration_anchors` for a page's doses: each dose evaluates as it does alone, an
    integration linked to a dose starting after it included, older history left out."""
    old = a_dose(START - timedelta(days=30), status=SessionStatus.completed)
    first = a_dose(START, status=SessionStatus.completed)
    second = a_dose(START + timedelta(days=1))
    history = an_integration(old.ends_at + HOUR)
    early_link = an_integration(first.starts_at - HOUR, linked_to=second)  # before its dose
    booked = an_integration(second.ends_at + HOUR)
    integrations, doses = [history, early_link, booked], [old, first, second]
    anchors = integration_anchors(integrations, doses, [first, second])
    assert anchors == {early_link.id: second.id, booked.id: second.id}
    now = second.ends_at
    for dose in (first, second):
        assert evaluate_dose(dose, integrations, doses, DEFAULT, now, anchors) == (
            evaluate_dose(dose, integrations, doses, DEFAULT, now)
        )
    assert integration_anchors(integrations, doses, []) == {}


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
