"""Recurring tasks: run once per period, tried again by their schedule after a failure."""

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from app.jobs.metrics import JobMetrics
from app.jobs.recurring import Recurring
from app.jobs.schedule import Doubling


async def test_a_task_runs_once_a_period_and_sooner_again_after_a_failure() -> None:
    registry = CollectorRegistry()
    outcomes: list[int | Exception] = [1, RuntimeError("down"), RuntimeError("still down"), 2]

    async def task() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    retry = Doubling(first=timedelta(seconds=2), cap=timedelta(minutes=1))
    purge = Recurring("purge", timedelta(hours=1), task, JobMetrics(registry), retry)

    assert await purge.run_if_due(0.0) == 1  # due at once when the worker starts
    assert await purge.run_if_due(3599.0) == 0  # not yet
    with pytest.raises(RuntimeError):
        await purge.run_if_due(3600.0)
    assert await purge.run_if_due(3601.0) == 0
    with pytest.raises(RuntimeError):
        await purge.run_if_due(3602.0)  # 2 s after the failure
    assert await purge.run_if_due(3605.0) == 0
    assert await purge.run_if_due(3606.0) == 2  # 4 s after the second failure
    assert await purge.run_if_due(3606.0 + 3599) == 0  # a whole period again

    def count(what: str) -> float:
        return registry.get_sample_value(f"kap_jobs_{what}_total", {"queue": "purge"}) or 0.0

    assert [count(w) for w in ("claimed", "succeeded", "retried", "given_up")] == [4, 2, 2, 0]
