"""Rate limits (OWASP API4: unrestricted resource consumption).

Every request is counted once, under one of three policies, in the store of limit_store.py:

- `caller`: a verified caller, counted by `authenticate` (app/auth/dependencies.py) once the
  credentials have been checked, per staff member, so that neither made-up keys nor junk carrying
  a real key's prefix can spend someone else's quota, and extra keys or OIDC do not multiply one
  person's.
- `address`: everything that is not verified, per client address: requests without credentials,
  routes that take none in a header (inbound scheduling webhooks, calendar feeds, docs) and
  unknown paths.
- `failed-auth`: failed authentications per client address, a stricter budget. A failure is
  counted where it is decided (`failed_authentication`), atomically, so that a parallel burst
  gets no more 401s (nor audit rows) than the budget: past it, the failure itself answers 429.
  A request with credentials that ends unverified before authentication could decide (a body
  that is not JSON, an unknown path) is counted here too, after its answer. Once the budget is
  spent, requests with credentials answer 429 before any key is looked up.

Answers to requests counted before the answer carry `RateLimit-Policy` and `RateLimit`
(draft-ietf-httpapi-ratelimit-headers); a 429 also carries `Retry-After`. Probes and the metrics
scrape are never limited.
"""

import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from limits import RateLimitItem, RateLimitItemPerMinute
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.security.exceptions import RateLimited, respond
from app.security.limit_store import LimitStore, Window

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
WINDOW_SECONDS = 60
HEADERS_STATE = "rate_limit_headers"  # scope["state"] key: headers for the response
COUNTED_STATE = "rate_limit_counted"  # scope["state"] key: this request has been counted
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Policy:
    """A quota per partition (a staff member or a client address) and minute."""

    name: str
    per_minute: int
    item: RateLimitItem = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item", RateLimitItemPerMinute(self.per_minute))

    def headers(self, window: Window) -> dict[str, str]:
        """The IETF fields, in their structured-field form."""
        return {
            "RateLimit-Policy": f'"{self.name}";q={self.per_minute};w={WINDOW_SECONDS}',
            "RateLimit": f'"{self.name}";r={window.remaining};t={window.reset}',
        }

    def refusal(self, window: Window) -> RateLimited:
        headers = {**self.headers(window), "Retry-After": str(window.reset)}
        return RateLimited(f"Too many requests; retry after {window.reset} s.", headers=headers)


def address_key(scope: Scope) -> str:
    """The partition of a client address: the address itself, or its /64 for IPv6, since one
    IPv6 subscriber usually holds a whole /64.

    The address is the connection's, or the one uvicorn took from `X-Forwarded-For` when the
    connection came from a trusted proxy (KAP_TRUSTED_PROXIES).
    """
    client = scope.get("client")
    host = str(client[0]) if client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


class RateLimits:
    """The three policies over one store."""

    def __init__(self, store: LimitStore, per_minute: int, failed_auth_per_minute: int) -> None:
        self.store = store
        self.caller = Policy("caller", per_minute)
        self.address = Policy("address", per_minute)
        self.failed_auth = Policy("failed-auth", failed_auth_per_minute)

    async def count(self, policy: Policy, partition: str) -> Window:
        return await self.store.hit(policy.item, f"{policy.name}:{partition}")

    async def peek(self, policy: Policy, partition: str) -> Window:
        return await self.store.peek(policy.item, f"{policy.name}:{partition}")

    async def admit_caller(self, scope: Scope, staff_id: uuid.UUID) -> None:
        """Count a verified caller's request; RateLimited when their quota is spent."""
        window = await self.count(self.caller, str(staff_id))
        self.noted(scope, self.caller, window)
        if not window.allowed:
            raise self.caller.refusal(window)

    async def failed_authentication(self, scope: Scope) -> None:
        """Count a failed authentication against its client address's budget; RateLimited when
        the budget is spent, in place of the failure's own answer (and of its audit row).

        The count is one atomic hit, so of any number of failures at once only as many as the
        budget allows get past here.
        """
        window = await self.count(self.failed_auth, address_key(scope))
        self.noted(scope, self.failed_auth, window)
        if not window.allowed:
            raise self.failed_auth.refusal(window)

    async def refuse_failed_address(self, scope: Scope) -> None:
        """RateLimited, without counting, when the address has spent its failed-authentication
        budget: checked before any credential is looked up."""
        window = await self.peek(self.failed_auth, address_key(scope))
        if not window.allowed:
            raise self.failed_auth.refusal(window)

    async def admit_unverified(self, scope: Scope) -> None:
        """Count a request to a route that verifies no caller against its address (unless the
        middleware already did); RateLimited when the address's quota is spent."""
        if scope.get("state", {}).get(COUNTED_STATE):
            return
        window = await self.count(self.address, address_key(scope))
        self.noted(scope, self.address, window)
        if not window.allowed:
            raise self.address.refusal(window)

    @staticmethod
    def noted(scope: Scope, policy: Policy, window: Window) -> None:
        """Record that `scope`'s request was counted, and the fields its answer carries."""
        state = scope.setdefault("state", {})
        state[HEADERS_STATE] = policy.headers(window)
        state[COUNTED_STATE] = True


def rate_limits_of(app: Any) -> RateLimits | None:
    """The app's rate limits, or None when limiting is off."""
    limits = getattr(getattr(app.state, "security", None), "rate_limits", None)
    return limits if isinstance(limits, RateLimits) else None


_VERIFIERS: set[Callable[..., Any]] = set()


def verifies_callers(dependency: F) -> F:
    """Marks the dependency that verifies callers (and counts them): `authenticate`."""
    _VERIFIERS.add(dependency)
    return dependency


def verifies_callers_in(dependant: Dependant) -> bool:
    """Whether a route's dependencies verify its caller (else it is counted per address)."""
    return any(dep.call in _VERIFIERS or verifies_callers_in(dep) for dep in dependant.dependencies)


def _credentialed(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope.get("headers", ()))


class RateLimitMiddleware:
    """Counts what `authenticate` will not, refuses before the app runs where it can, and adds
    the RateLimit fields to the answers of requests counted by then.

    A request without credentials can never be verified: it spends its address's quota here. A
    request with credentials is refused here only when its address has spent its
    failed-authentication budget (without a key being looked up); otherwise `authenticate` counts
    it, or, on a route that verifies no caller, UnitOfWorkRoute counts it per address before the
    handler runs. Whatever is still uncounted when the answer is out was answered before
    authentication ran (a body that is not JSON, a NUL in the query, an unknown path, an identity
    provider that cannot be reached): a failure with credentials counts as a failed
    authentication then, so the check above refuses the next ones; anything else (a docs page)
    counts per address.
    """

    def __init__(
        self, app: ASGIApp, limits: RateLimits, exempt: frozenset[str] = EXEMPT_PATHS
    ) -> None:
        self.app = app
        self.limits = limits
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        limits = self.limits
        state = scope.setdefault("state", {})
        state.pop(COUNTED_STATE, None)
        address = address_key(scope)
        credentialed = _credentialed(scope)
        try:
            if credentialed:
                await limits.refuse_failed_address(scope)
            else:
                await limits.admit_unverified(scope)
        except RateLimited as refusal:
            await respond(scope, refusal)(scope, receive, send)
            return
        status: int | None = None

        async def send_with_fields(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if state.get(HEADERS_STATE):
                    headers = MutableHeaders(scope=message)
                    for name, value in state[HEADERS_STATE].items():
                        if name not in headers:
                            headers.append(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_fields)
        finally:
            if not state.get(COUNTED_STATE):
                failed = credentialed and (status is None or status >= 400)
                await limits.count(limits.failed_auth if failed else limits.address, address)
