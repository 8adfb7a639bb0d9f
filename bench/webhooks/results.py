"""What one phase measured, from the producer's commit times and the receiver's arrivals."""

from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Result:
    events: int
    seconds: float  # first commit (or first arrival, for drain) to last arrival
    producer_rate: float | None
    latencies: list[float] = field(default_factory=list)
    duplicates: int = 0
    unverified: int = 0
    worker_cpu_s: float = 0.0
    machine_busy: float = 0.0
    extra_attempts: int = 0
    waits: dict[str, float] = field(default_factory=dict)  # worker backends, average per state

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def measure(
    committed: dict[str, float],
    arrivals: dict[str, list[tuple[float, bool]]],
    producer_seconds: float | None,
    worker_cpu_s: float,
    machine_busy: float,
    *,
    from_first_arrival: bool = False,
) -> Result:
    mine = {event_id: arrivals.get(event_id, []) for event_id in committed}
    missing = [event_id for event_id, got in mine.items() if not got]
    if missing:
        raise RuntimeError(f"{len(missing)} events never reached the receiver")
    first_arrival = {event_id: min(at for at, _ in got) for event_id, got in mine.items()}
    start = min(first_arrival.values()) if from_first_arrival else min(committed.values())
    return Result(
        events=len(committed),
        seconds=max(first_arrival.values()) - start,
        producer_rate=len(committed) / producer_seconds if producer_seconds else None,
        latencies=[first_arrival[e] - committed[e] for e in committed],
        duplicates=sum(len(got) - 1 for got in mine.values()),
        unverified=sum(1 for got in mine.values() for _, ok in got if not ok),
        worker_cpu_s=worker_cpu_s,
        machine_busy=machine_busy,
    )


@dataclass
class Configuration:
    workers: int
    steady: Result
    burst: Result
    drain: Result
