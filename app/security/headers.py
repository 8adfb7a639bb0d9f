"""Response headers that tell browsers and caches to keep API data to themselves (OWASP API8)."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Browsers ignore it over plain http, so it is safe to send everywhere.
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
# Nothing an API response holds should ever run or load anything, nor be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
API_PREFIX = "/api/"


class SecurityHeadersMiddleware:
    """Adds the headers above to every response; `/api/` responses are never cached.

    A response that sets its own Content-Security-Policy (the docs pages) keeps it; every other
    response gets the locked-down API policy, so a future HTML page must state its own.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith(API_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(SECURITY_HEADERS)
                headers.setdefault("Content-Security-Policy", API_CSP)
                if is_api:
                    # Patient data: no browser, proxy or CDN may keep a copy.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
