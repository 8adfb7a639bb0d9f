"""CORS for the configured browser origins only, through Starlette's CORSMiddleware."""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

ALLOW_METHODS = ("GET", "POST", "PATCH", "DELETE")
ALLOW_HEADERS = ("Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-ID")
EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Idempotent-Replayed",
    "Retry-After",
    "RateLimit-Policy",
    "RateLimit",
    "X-Request-ID",
)


class AllowedOriginsCORSMiddleware:
    """Starlette's CORS handling for requests from an allowed origin; others pass untouched.

    Starlette would still add `Access-Control-Expose-Headers` (and answer preflights with its
    allow-lists) for any origin; routing only allowed origins through it means another origin
    learns nothing about the CORS policy. Bearer tokens travel in a header, never in cookies, so
    credentials stay disallowed.
    """

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.cors = CORSMiddleware(
            app,
            allow_origins=sorted(self.origins),
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            expose_headers=EXPOSE_HEADERS,
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and Headers(scope=scope).get("origin") in self.origins:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
