"""The counters behind every rate limit: `limits`' sliding-window counter, kept in Redis when
KAP_RATE_LIMIT_STORAGE_URL names one (shared by every replica), else in this process's memory.

A Redis that stops answering never fails a request and never lifts a limit: each check falls back
to the process's own counters, a warning is logged once per outage, `/readyz` says so, and Redis
is tried again every `retry_seconds` until it answers.
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, SlidingWindowCounterSupport, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

log = logging.getLogger(__name__)
T = TypeVar("T")
Monotonic = Callable[[], float]
# A blackholed Redis must not hold requests: give up on it quickly and count in memory.
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Window:
    """One partition's state under a limit, right after a check."""

    allowed: bool  # the request that was checked is admitted
    remaining: int  # requests still admitted now
    reset: int  # whole seconds until more quota frees up (when refused: until one is admitted)


def seconds_until_below(counts: tuple[int, float, int, float], expiry: int, target: int) -> float:
    """Seconds until the sliding-window count falls below `target`, if no request comes meanwhile.

    `counts` is what the storage reports: (previous window's count, its time to live, current
    window's count, its time to live). The previous window's weight shrinks linearly to zero as
    its time to live runs out; then the current window becomes the previous one and shrinks the
    same way. `limits` reports only when the current window ends, which can be too early for a
    `Retry-After`.
    """
    previous, previous_ttl, current, current_ttl = counts
    # The current window becomes the previous one when its own time to live drops under `expiry`.
    rollover = current_ttl - expiry if current_ttl > 0 else previous_ttl
    if target <= 0:
        return 2.0 * expiry  # nothing is below zero: answer the longest a count can weigh
    if current < target:
        if previous == 0:
            return 0.0
        # previous * (previous_ttl - d) / expiry + current < target
        return max(0.0, previous_ttl - (target - current) * expiry / previous)
    # Only after the rollover: current * (expiry - (d - rollover)) / expiry < target
    return max(0.0, rollover) + expiry * (1 - target / current)


def _whole_seconds_after(wait: float) -> int:
    """The first whole second strictly after `wait`: the count is below the target only once
    `wait` has passed, not at it (float noise rounded away first)."""
    return math.floor(round(wait, 6)) + 1


def _window(
    counts: tuple[int, float, int, float], limit: int, expiry: int, allowed: bool
) -> Window:
    previous, previous_ttl, current, _ = counts
    used = math.floor(previous * previous_ttl / expiry + current)
    remaining = max(0, limit - used)
    if not allowed:
        reset = _whole_seconds_after(seconds_until_below(counts, expiry, limit))
    elif used == 0:
        reset = expiry  # nothing used: the whole quota, for the whole window
    else:
        reset = _whole_seconds_after(seconds_until_below(counts, expiry, min(used, limit)))
    return Window(allowed, remaining, min(reset, 2 * expiry))


class LimitStore:
    """Sliding-window counters in Redis (`url`) or memory, with the fallback described above."""

    def __init__(
        self,
        url: str | None,
        key_prefix: str,
        *,
        retry_seconds: float = REDIS_RETRY_SECONDS,
        timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self.key_prefix = key_prefix
        self.retry_seconds = retry_seconds
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self.shared: SlidingWindowCounterRateLimiter | None = None
        if url:
            storage = storage_from_string(
                f"async+{url}",
                key_prefix=key_prefix,
                wrap_exceptions=True,
                connect_timeout=timeout_seconds,
                stream_timeout=timeout_seconds,
            )
            self.shared = SlidingWindowCounterRateLimiter(storage)
        self.down_since: datetime | None = None
        self._retry_at = 0.0

    @property
    def kind(self) -> str:
        return "redis" if self.shared is not None else "memory"

    @property
    def degraded(self) -> bool:
        return self.down_since is not None

    async def hit(self, item: RateLimitItem, key: str) -> Window:
        """Count one request against `key` under `item`, unless that would pass the limit."""

        async def check(limiter: SlidingWindowCounterRateLimiter) -> Window:
            allowed = await limiter.hit(item, key)
            return _window(
                await _counts(limiter, item, key), item.amount, item.get_expiry(), allowed
            )

        return await self._run(check)

    async def peek(self, item: RateLimitItem, key: str) -> Window:
        """Whether one more request would be admitted under `item`, without counting it."""

        async def check(limiter: SlidingWindowCounterRateLimiter) -> Window:
            counts = await _counts(limiter, item, key)
            previous, previous_ttl, current, _ = counts
            allowed = previous * previous_ttl / item.get_expiry() + current < item.amount
            return _window(counts, item.amount, item.get_expiry(), allowed)

        return await self._run(check)

    async def status(self) -> dict[str, Any]:
        """For /readyz: which store counts, and whether it is the configured one."""
        if self.shared is not None and self.degraded and self.clock() >= self._retry_at:
            await self._probe(self.shared)
        if self.shared is None:
            return {"store": "memory", "shared": False}
        if self.down_since is None:
            return {"store": "redis", "shared": True}
        return {
            "store": "memory",
            "shared": False,
            "configured": "redis",
            "detail": "Redis is unreachable; limits are counted per process until it answers "
            "again.",
            "since": self.down_since.isoformat().replace("+00:00", "Z"),
        }

    async def _run(self, check: Callable[[SlidingWindowCounterRateLimiter], Awaitable[T]]) -> T:
        shared = self.shared
        if shared is not None and (self.down_since is None or self.clock() >= self._retry_at):
            if self.down_since is not None:
                # One request probes a down Redis per interval; the rest keep to memory meanwhile.
                self._retry_at = self.clock() + self.retry_seconds
            try:
                result = await asyncio.wait_for(check(shared), self.timeout_seconds)
            except Exception as error:  # whatever Redis does, the request is still counted
                self._went_down(error)
            else:
                self._came_back()
                return result
        return await check(self.memory)

    async def _probe(self, shared: SlidingWindowCounterRateLimiter) -> None:
        """A PING to notice that a down Redis is back without waiting for traffic."""
        self._retry_at = self.clock() + self.retry_seconds
        try:
            answered = await asyncio.wait_for(shared.storage.check(), self.timeout_seconds)
        except Exception:
            answered = False
        if answered:
            self._came_back()

    def _went_down(self, error: Exception) -> None:
        self._retry_at = self.clock() + self.retry_seconds
        if self.down_since is None:
            self.down_since = datetime.now(UTC)
            cause = error.__cause__ if isinstance(error, StorageError) else error
            log.warning(
                "rate-limit store unreachable, counting per process until it answers again",
                extra={"fields": {"store": "redis", "error": type(cause or error).__name__}},
            )

    def _came_back(self) -> None:
        if self.down_since is not None:
            log.warning(
                "rate-limit store reachable again, counting in it",
                extra={"fields": {"store": "redis", "down_since": self.down_since.isoformat()}},
            )
            self.down_since = None


async def _counts(
    limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, key: str
) -> tuple[int, float, int, float]:
    storage: Storage = limiter.storage
    assert isinstance(storage, SlidingWindowCounterSupport)
    return await storage.get_sliding_window(item.key_for(key), item.get_expiry())
