"""Prometheus counters of the job queues, labelled by queue (a closed set: the worker's own)."""

from prometheus_client import CollectorRegistry, Counter


class JobMetrics:
    """Claims, successes, retries and give-ups per queue, in one registry (the app's, so the
    in-process worker's counts are on /metrics; a private one where none is given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.claims = Counter(
            "kap_jobs_claimed_total",
            "Jobs a worker claimed (a recurring task: runs started), by queue.",
            ["queue"],
            registry=registry,
        )
        self.successes = Counter(
            "kap_jobs_succeeded_total",
            "Jobs done, by queue.",
            ["queue"],
            registry=registry,
        )
        self.retries = Counter(
            "kap_jobs_retried_total",
            "Jobs put back for a later attempt (after a failure, or when the job asked to wait), "
            "by queue.",
            ["queue"],
            registry=registry,
        )
        self.give_ups = Counter(
            "kap_jobs_given_up_total",
            "Jobs given up on (their retry schedule spent, or their target gone), by queue.",
            ["queue"],
            registry=registry,
        )

    def declare(self, queue: str) -> None:
        """Show the queue's series from the start, at 0, so rates and alerts have a baseline."""
        for counter in (self.claims, self.successes, self.retries, self.give_ups):
            counter.labels(queue)
