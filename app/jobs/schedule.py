"""Retry schedules: how long a job waits after its n-th failed attempt, or that it gives up.

Each queue keeps its own values; they are documented behaviour (docs/webhooks.md lists the
webhook schedule, docs/scheduling-integrations.md what happens to a booking that fails).
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol


class RetrySchedule(Protocol):
    def delay(self, attempts_made: int) -> timedelta | None:
        """The wait after `attempts_made` (≥ 1) attempts that all failed; None: give up."""


@dataclass(frozen=True)
class Doubling:
    """`first` after the first failure, doubling after each one up to `cap`; never gives up."""

    first: timedelta
    cap: timedelta

    def delay(self, attempts_made: int) -> timedelta:
        # The exponent is bounded so that a job failing for months does not build huge numbers.
        return min(self.first * (1 << min(max(attempts_made - 1, 0), 20)), self.cap)


@dataclass(frozen=True)
class Steps:
    """A fixed table: `delays[n]` is the wait before attempt n + 1 (delays[0], before the first,
    is when the job was queued), each with ± `jitter`; gives up after len(delays) attempts."""

    delays: tuple[timedelta, ...]
    jitter: float = 0.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempts_made: int) -> timedelta | None:
        if attempts_made >= len(self.delays):
            return None
        return self.delays[attempts_made] * (1 + self.rng.uniform(-self.jitter, self.jitter))
