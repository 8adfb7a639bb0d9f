"""Per-caller token buckets (OWASP API4: unrestricted resource consumption).

Limits are kept in this process: with N server processes a caller may reach N times the
configured rate. That is acceptable for the deployments this serves; a shared store (Redis or the
database) is future work. Memory stays bounded: idle buckets are dropped and the table is capped.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.keys import split_key
from app.security.exceptions import RateLimited, render

Monotonic = Callable[[], float]

# Probes and scrapes must keep working while a caller is being throttled.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per caller: `burst` requests at once, refilled at `per_minute`."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Monotonic = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if per_minute <= 0 or burst <= 0:
            raise ValueError("per_minute and burst must be positive")
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.clock = clock
        self.max_buckets = max_buckets
        # A bucket left alone this long is full again, so forgetting it changes nothing.
        self.idle_after = self.capacity / self.rate
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, caller: str) -> float:
        """Take one token: 0.0 when admitted, else the seconds until a token is available."""
        now = self.clock()
        self._forget_idle(now)
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(self.capacity, now)
            if len(self._buckets) > self.max_buckets:
                # Only under a flood of distinct callers: the least recently seen starts afresh.
                self._buckets.popitem(last=False)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            self._buckets.move_to_end(caller)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        while self._buckets:
            caller, bucket = next(iter(self._buckets.items()))
            if now - bucket.updated < self.idle_after:
                return
            del self._buckets[caller]


def caller_of(scope: Scope) -> str:
    """The bucket a request draws from: its API-key prefix, else its client IP.

    The prefix is read from the token without touching the database, so a throttled caller
    costs no query; an unparseable token (or none) counts against the connecting address.
    """
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and (parts := split_key(token.strip())) is not None:
        return f"key:{parts[0]}"
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """429 `rate_limited` with `Retry-After` once a caller's bucket is empty."""

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, exempt: frozenset[str] = EXEMPT_PATHS
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.acquire(caller_of(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(round(wait, 6)))  # round away float noise before ceil
        error = RateLimited(
            f"Too many requests; retry after {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )
        await render(error)(scope, receive, send)
