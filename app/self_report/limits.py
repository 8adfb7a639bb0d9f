"""Rate limits of the link pages: per client address and per token, on top of the service's
own address quota, so that a link cannot be hammered nor tokens guessed in bulk.

Counted in the store of app/security (memory or Redis); on only while rate limiting is
(KAP_RATE_LIMIT_PER_MINUTE > 0). A token is counted by a hash of it, so the store never
holds one.
"""

import hashlib
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.types import Scope

from app.security import security_state
from app.security.rate_limit import Policy, RateLimits, address_key, rate_limits_of

STATE = "self_report_limits"


@dataclass(frozen=True)
class LinkLimits:
    limits: RateLimits
    per_address: Policy
    per_token: Policy

    async def admit(self, scope: Scope, token: str) -> None:
        """Count one request to a link page; RateLimited (with Retry-After) past either quota.
        The address is counted first, so a refused address spends no token's quota."""
        for policy, partition in (
            (self.per_address, address_key(scope)),
            (self.per_token, hashlib.sha256(token.encode()).hexdigest()[:32]),
        ):
            window = await self.limits.count(policy, partition)
            self.limits.noted(scope, policy, window)
            if not window.allowed:
                raise policy.refusal(window)


def link_limits(app: FastAPI) -> LinkLimits | None:
    """The app's link-page limits (built once), or None when rate limiting is off."""
    limits = rate_limits_of(app)
    if limits is None or security_state(app) is None:
        return None
    built: LinkLimits | None = getattr(app.state, STATE, None)
    if built is None:
        settings = app.state.settings
        built = LinkLimits(
            limits,
            Policy("self-report-address", settings.self_report_per_address_per_minute),
            Policy("self-report-token", settings.self_report_per_token_per_minute),
        )
        setattr(app.state, STATE, built)
    return built
