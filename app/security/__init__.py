"""Transport-level protections: body and rate limits, security headers, CORS, safe 500s.

They answer OWASP API Security Top 10 2023 items API4 (unrestricted resource consumption) and
API8 (security misconfiguration). `install_security` is the one entry point.
"""

from dataclasses import dataclass

from fastapi import FastAPI

from app.audit.denials import UnverifiedDenials
from app.config import Settings
from app.security.body_limit import BodyLimitMiddleware
from app.security.cors import AllowedOriginsCORSMiddleware
from app.security.headers import SecurityHeadersMiddleware
from app.security.limit_store import LimitStore
from app.security.rate_limit import RateLimitMiddleware, RateLimits
from app.security.unhandled import UnhandledErrorMiddleware

__all__ = ["SecurityState", "install_security", "security_state"]


@dataclass(frozen=True)
class SecurityState:
    """What install_security set up; `rate_limits` is None when limiting is off."""

    store: LimitStore
    rate_limits: RateLimits | None
    unverified_denials: UnverifiedDenials


def security_state(app: FastAPI) -> SecurityState | None:
    """The app's security setup, or None when install_security has not run on it."""
    state = getattr(app.state, "security", None)
    return state if isinstance(state, SecurityState) else None


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the security middleware; call it just before the metrics middleware is added.

    Outermost first, each request passes: security headers (so every answer below carries
    them, 413/429/500 and CORS preflights included) → CORS (so browsers can read those answers)
    → the unexpected-error renderer → the rate limit (cheapest refusal, no database) → the body
    limit → the app. Metrics, added afterwards, wraps all of it and so counts refusals too.
    """
    if security_state(app) is not None:
        raise RuntimeError("install_security has already run on this app")
    store = LimitStore(settings.rate_limit_storage_url, settings.rate_limit_key_prefix)
    limits = None
    if settings.rate_limit_per_minute > 0:
        limits = RateLimits(
            store, settings.rate_limit_per_minute, settings.rate_limit_failed_auth_per_minute
        )
    denials = UnverifiedDenials(
        store,
        settings.audit_unverified_denials_per_address,
        settings.audit_unverified_denials_per_minute,
        app.state.metrics.registry,
    )
    app.state.security = SecurityState(store=store, rate_limits=limits, unverified_denials=denials)

    # add_middleware wraps what is already there: the last one added runs first.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if limits is not None:
        app.add_middleware(RateLimitMiddleware, limits=limits)
    app.add_middleware(UnhandledErrorMiddleware)
    if settings.cors_origins:
        app.add_middleware(AllowedOriginsCORSMiddleware, origins=settings.cors_origins)
    app.add_middleware(SecurityHeadersMiddleware)
