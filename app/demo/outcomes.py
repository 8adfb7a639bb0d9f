"""Demo clients picked to show what a random set may miss.

`self_harm`: the latest PHQ-9 is positive on item 9, which raises the journey alert.
`remission_met` and `remission_open`: the twelve-month measures (CMS159 / NQF 1885) need a PHQ-9
history a year long, longer than any course in the demo. These clients had a first course before
the clinic moved to KAP Journey; its PHQ-9s were carried over from the paper chart, with no
session. The first came back for a maintenance series whose latest PHQ-9 is below 5, twelve months
after the index: remission `met`. The second returns for a new course some eleven months on, with
no PHQ-9 since that first course: the twelve-month PHQ-9 is due, remission `open`.
"""

from enum import StrEnum

from app.assessments.scoring import Instrument


class Showcase(StrEnum):
    self_harm = "self_harm"
    remission_met = "remission_met"
    remission_open = "remission_open"


# (days before now, PHQ-9 total) of the first course. The index is the first (above 9); the
# measurement period runs from index + 305 to index + 425 days (app.assessments.measures).
# met: 400 days ago -> the period is [95 days ago, 25 days ahead] and holds the current course.
# open: 320 days ago -> the period began 15 days ago and holds no PHQ-9 yet.
FIRST_COURSE: dict[Showcase, tuple[tuple[int, int], ...]] = {
    Showcase.remission_met: ((400, 19), (386, 14), (372, 9)),
    Showcase.remission_open: ((320, 16), (306, 12), (292, 8)),
}

MAINTENANCE_ENDS_AT = 3
"""Where the `remission_met` client's current PHQ-9 series ends: below 5, so remission is met."""


def first_course(shows: Showcase | None) -> tuple[tuple[int, int], ...]:
    """(days before now, total) of the client's carried-over PHQ-9s; none for most clients."""
    return FIRST_COURSE.get(shows, ()) if shows is not None else ()


def series_totals(
    shows: Showcase | None, instrument: Instrument, start: int, count: int
) -> list[int] | None:
    """The totals of a current series the showcase fixes (evenly from `start` down to its end),
    or None to let the series drift down at random."""
    if shows is not Showcase.remission_met or instrument is not Instrument.phq9:
        return None
    end, steps = MAINTENANCE_ENDS_AT, max(1, count - 1)
    # The last one is `end` (a series of one is just `end`), the first `start`.
    return [round(end + (start - end) * (count - 1 - n) / steps) for n in range(count)]
