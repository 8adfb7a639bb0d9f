"""Scoring of the measurement-based-care scales (PHQ-9, GAD-7, PCL-5) and their trajectories.

Pure functions on plain values, so every published cut-off can be tested on both sides without a
database. The bands are the published ones (clinical-facts.md section 3); anything that is
clinic policy rather than publication (the PCL-5 cut-off) says so where it is used.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class Instrument(StrEnum):
    phq9 = "phq9"
    gad7 = "gad7"
    pcl5 = "pcl5"


class Severity(StrEnum):
    """Severity bands, mildest first (definition order is severity order)."""

    minimal = "minimal"
    mild = "mild"
    moderate = "moderate"
    moderately_severe = "moderately_severe"
    severe = "severe"


ITEM_COUNT: dict[Instrument, int] = {Instrument.phq9: 9, Instrument.gad7: 7, Instrument.pcl5: 20}
ITEM_MAX: dict[Instrument, int] = {Instrument.phq9: 3, Instrument.gad7: 3, Instrument.pcl5: 4}

DEFAULT_PCL5_CUTOFF = 33
"""Probable PTSD at or above this total; published cut-offs run 31 to 33, the clinic uses 33."""

PCL5_MEANINGFUL_DROP = 10
"""A PCL-5 drop of at least this many points is clinically meaningful (Blevins 2015, Bovin 2016)."""
PCL5_RELIABLE_DROP = 5
"""A PCL-5 drop of at least this many points is reliable change (Blevins 2015, Bovin 2016)."""

MINIMAL_BELOW = 5
"""PHQ-9 and GAD-7: a total below this is in the "minimal" band (Kroenke 2001, Spitzer 2006)."""

# Lowest total of each band, most severe first: the first floor the total reaches names the band.
_BANDS: dict[Instrument, tuple[tuple[int, Severity], ...]] = {
    # Kroenke, Spitzer & Williams, J Gen Intern Med 2001;16:606.
    Instrument.phq9: (
        (20, Severity.severe),
        (15, Severity.moderately_severe),
        (10, Severity.moderate),
        (5, Severity.mild),
        (0, Severity.minimal),
    ),
    # Spitzer et al., Arch Intern Med 2006;166:1092. GAD-7 has no "moderately severe" band.
    Instrument.gad7: (
        (15, Severity.severe),
        (10, Severity.moderate),
        (5, Severity.mild),
        (0, Severity.minimal),
    ),
}

_PHQ9_SELF_HARM_INDEX = 8  # item 9: "thoughts that you would be better off dead..."

# DSM-5 PTSD clusters as PCL-5 item indices, with how many items of each must be endorsed (≥ 2).
_PCL5_ENDORSED = 2
_PCL5_CLUSTERS: tuple[tuple[range, int], ...] = (
    (range(0, 5), 1),  # B, intrusions: items 1-5
    (range(5, 7), 1),  # C, avoidance: items 6-7
    (range(7, 14), 2),  # D, cognitions and mood: items 8-14
    (range(14, 20), 2),  # E, arousal and reactivity: items 15-20
)


class ItemScoresInvalid(ValueError):
    """The item scores cannot be scored: wrong count, a non-integer, or an item out of range."""

    def __init__(self, instrument: Instrument, message: str, item_index: int | None = None) -> None:
        super().__init__(message)
        self.instrument = instrument
        self.item_index = item_index


def check_items(instrument: Instrument, item_scores: Sequence[int]) -> None:
    """Raise ItemScoresInvalid unless there is exactly one integer within 0..max per item.

    A bool is refused even though Python counts it as an int: True as "1" is a caller's bug.
    """
    instrument = Instrument(instrument)
    count, top = ITEM_COUNT[instrument], ITEM_MAX[instrument]
    if len(item_scores) != count:
        raise ItemScoresInvalid(
            instrument, f"{instrument} needs {count} item scores, got {len(item_scores)}"
        )
    for index, value in enumerate(item_scores):
        where = f"{instrument} item {index + 1} (index {index})"
        if isinstance(value, bool) or not isinstance(value, int):
            raise ItemScoresInvalid(instrument, f"{where} must be an integer, got {value!r}", index)
        if not 0 <= value <= top:
            raise ItemScoresInvalid(
                instrument, f"{where} is {value}; each item is scored 0 to {top}", index
            )


def severity_of(instrument: Instrument, total: int) -> Severity | None:
    """The published severity band of a total; None for PCL-5, which has no validated bands."""
    bands = _BANDS.get(instrument)
    if bands is None:
        return None
    for floor, severity in bands:
        if total >= floor:
            return severity
    raise ValueError(f"{instrument} total cannot be negative, got {total}")


@dataclass(frozen=True)
class Score:
    """One administration, scored. The PCL-5 fields are None for the other instruments."""

    instrument: Instrument
    total: int
    severity: Severity | None
    probable_ptsd: bool | None
    provisional_dsm5: bool | None
    self_harm_item_positive: bool


def _provisional_dsm5(item_scores: Sequence[int]) -> bool:
    return all(
        sum(1 for index in cluster if item_scores[index] >= _PCL5_ENDORSED) >= needed
        for cluster, needed in _PCL5_CLUSTERS
    )


def score(
    instrument: Instrument, item_scores: Sequence[int], *, pcl5_cutoff: int = DEFAULT_PCL5_CUTOFF
) -> Score:
    """Total, band and flags of one administration.

    `pcl5_cutoff` is clinic policy and is taken as given; the caller validates it to 0..80.
    """
    instrument = Instrument(instrument)
    check_items(instrument, item_scores)
    total = sum(item_scores)
    is_pcl5 = instrument is Instrument.pcl5
    return Score(
        instrument=instrument,
        total=total,
        severity=severity_of(instrument, total),
        probable_ptsd=total >= pcl5_cutoff if is_pcl5 else None,
        provisional_dsm5=_provisional_dsm5(item_scores) if is_pcl5 else None,
        # Any answer above "not at all" goes to a clinician; the total can hide it.
        self_harm_item_positive=(
            instrument is Instrument.phq9 and item_scores[_PHQ9_SELF_HARM_INDEX] > 0
        ),
    )


@dataclass(frozen=True)
class Point:
    """One scored administration on a client's timeline (administered_at is aware)."""

    administered_at: datetime
    total: int
    severity: Severity | None
    assessment_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Trajectory:
    """Baseline (the first administration) to latest (the most recent) for one instrument.

    Snapshot values only, named for what they are; none is a response or a remission (those are
    the PHQ-9's twelve-month measures, app.assessments.measures). `change_from_baseline` is latest
    minus baseline, so improvement is negative. The PHQ-9 / GAD-7 values are None for PCL-5 and
    the PCL-5 values None for the others.
    """

    instrument: Instrument
    baseline: Point | None
    latest: Point | None
    change_from_baseline: int | None
    percent_change_from_baseline: float | None
    halved_from_baseline: bool | None
    latest_below_5: bool | None
    latest_below_cutoff: bool | None
    reliable_change: bool | None
    clinically_meaningful_change: bool | None
    points: tuple[Point, ...]


def chronological_key(point: Point) -> tuple[datetime, int]:
    """Oldest first; the id breaks ties so equal timestamps still give one order (None first)."""
    return point.administered_at, -1 if point.assessment_id is None else point.assessment_id.int


def _percent(change: int, baseline: int) -> float:
    # Decimal, so a half rounds away from zero every time instead of by float representation.
    exact = Decimal(change * 100) / Decimal(baseline)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def trajectory(
    instrument: Instrument, points: Iterable[Point], *, pcl5_cutoff: int = DEFAULT_PCL5_CUTOFF
) -> Trajectory:
    """Snapshot values from the earliest to the most recent administration.

    PHQ-9 and GAD-7: whether the latest total is at most half the baseline's
    (`halved_from_baseline`, in integers so exactly half counts) and below 5, the top of the
    "minimal" band (Kroenke 2001, Spitzer 2006). PCL-5: a drop of at least 5 points is reliable
    change and of at least 10 clinically meaningful (Blevins 2015, Bovin 2016); the latest below
    `pcl5_cutoff` (clinic policy, validated by the caller) is below the probable-PTSD cut-off.
    With one point, baseline and latest are the same administration and the change is 0.
    """
    instrument = Instrument(instrument)
    ordered = tuple(sorted(points, key=chronological_key))
    if not ordered:
        return Trajectory(instrument, None, None, None, None, None, None, None, None, None, ())
    baseline, latest = ordered[0], ordered[-1]
    change = latest.total - baseline.total
    percent = _percent(change, baseline.total) if baseline.total else None
    if instrument is Instrument.pcl5:
        drop = baseline.total - latest.total
        return Trajectory(
            instrument=instrument,
            baseline=baseline,
            latest=latest,
            change_from_baseline=change,
            percent_change_from_baseline=percent,
            halved_from_baseline=None,
            latest_below_5=None,
            latest_below_cutoff=latest.total < pcl5_cutoff,
            reliable_change=drop >= PCL5_RELIABLE_DROP,
            clinically_meaningful_change=drop >= PCL5_MEANINGFUL_DROP,
            points=ordered,
        )
    return Trajectory(
        instrument=instrument,
        baseline=baseline,
        latest=latest,
        change_from_baseline=change,
        percent_change_from_baseline=percent,
        # A zero baseline cannot be halved: None, not a vacuous True.
        halved_from_baseline=2 * latest.total <= baseline.total if baseline.total else None,
        latest_below_5=latest.total < MINIMAL_BELOW,
        latest_below_cutoff=None,
        reliable_change=None,
        clinically_meaningful_change=None,
        points=ordered,
    )
