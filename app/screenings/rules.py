"""Medical clearance: which screening governs at an instant, and what status that gives.

Pure functions on plain values, so every boundary is tested without a database. The repository
loads, per client, only what `clearance_at` looks at (the latest decided and the latest pending
screening up to the instant, in the order `precedence` defines); `tests/screenings` checks that
both agree. The clinical reasoning is in docs/decisions.md, "Medical screening and clearance".

- Only screenings with `screened_at <= at` count: a screening speaks from when it was done.
- The latest *decided* screening (cleared or not_cleared) governs: a later `not_cleared`
  supersedes an earlier `cleared`, a later `cleared` lifts an earlier `not_cleared`.
- A `pending` screening decides nothing: it does not revoke a clearance, nor lift a
  `not_cleared`, nor hide an expired clearance. The status is `pending` only while no screening
  was ever decided; a pending one recorded after the governing decision is reported beside it
  (`pending_screening_id`), awaiting a prescriber.
- A governing `cleared` screening clears from `screened_at` through `valid_until`, both included.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Decision(StrEnum):
    pending = "pending"
    cleared = "cleared"
    not_cleared = "not_cleared"


class ClearanceStatus(StrEnum):
    cleared = "cleared"
    not_cleared = "not_cleared"
    pending = "pending"
    missing = "missing"
    expired = "expired"


# Between screenings of one instant, recorded at one instant, the more cautious decision wins.
DECISION_RANK = {Decision.pending: 0, Decision.cleared: 1, Decision.not_cleared: 2}


@dataclass(frozen=True)
class ScreeningFact:
    """What the rule needs of one screening (times aware)."""

    id: uuid.UUID
    screened_at: datetime
    recorded_at: datetime
    decision: Decision
    valid_until: datetime


def precedence(fact: ScreeningFact) -> tuple[datetime, datetime, int, int]:
    """Later screened, then later recorded (a new decision on the same examination), then the
    more cautious decision, then the id: the greatest governs."""
    return fact.screened_at, fact.recorded_at, DECISION_RANK[fact.decision], fact.id.int


@dataclass(frozen=True)
class MedicalClearance:
    """A client's medical clearance at one instant.

    `screening_id` is the governing decided screening (for `pending`, the latest pending one);
    `valid_until` is the end of a clearance (`cleared`, `expired`), else None;
    `pending_screening_id` is a screening still awaiting a prescriber's decision.
    """

    status: ClearanceStatus
    screening_id: uuid.UUID | None = None
    valid_until: datetime | None = None
    pending_screening_id: uuid.UUID | None = None

    @property
    def cleared(self) -> bool:
        """Whether the client is medically cleared at the instant: what the dosing gate asks."""
        return self.status is ClearanceStatus.cleared


MISSING = MedicalClearance(ClearanceStatus.missing)


def valid_until(screened_at: datetime, valid_days: int) -> datetime:
    """The end of a screening's validity: whole 24-hour days on the UTC timeline."""
    return screened_at + timedelta(days=valid_days)


def clearance_at(screenings: Iterable[ScreeningFact], at: datetime) -> MedicalClearance:
    """The medical clearance at `at` given a client's screenings (any order, any subset that
    holds the latest decided and the latest pending one up to `at`)."""
    known = [fact for fact in screenings if fact.screened_at <= at]
    decided = max(
        (fact for fact in known if fact.decision is not Decision.pending),
        key=precedence,
        default=None,
    )
    pending = max(
        (fact for fact in known if fact.decision is Decision.pending), key=precedence, default=None
    )
    awaiting = pending
    if pending is not None and decided is not None and precedence(pending) < precedence(decided):
        awaiting = None  # decided on since
    awaiting_id = awaiting.id if awaiting is not None else None
    if decided is None:
        if awaiting is None:
            return MISSING
        return MedicalClearance(ClearanceStatus.pending, awaiting.id, None, awaiting.id)
    if decided.decision is Decision.not_cleared:
        return MedicalClearance(ClearanceStatus.not_cleared, decided.id, None, awaiting_id)
    status = ClearanceStatus.cleared if at <= decided.valid_until else ClearanceStatus.expired
    return MedicalClearance(status, decided.id, decided.valid_until, awaiting_id)
