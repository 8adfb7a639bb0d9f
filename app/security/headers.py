"""Response headers that tell browsers and caches to keep API data to themselves (OWASP API8)."""

from collections.abc import Iterable

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


# The same headers as raw ASGI pairs, made once: they are added to every response.
_ADDED = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_CSP = (b"content-security-policy", API_CSP.encode())
_NO_STORE = (b"cache-control", b"no-store")
_REPLACED = frozenset(name for name, _ in _ADDED)
_REPLACED_ON_API = _REPLACED | {_NO_STORE[0]}


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
        replaced = _REPLACED_ON_API if is_api else _REPLACED

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _secured(message.get("headers", ()), replaced, is_api)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secured(
    headers: Iterable[tuple[bytes, bytes]], replaced: frozenset[bytes], is_api: bool
) -> list[tuple[bytes, bytes]]:
    """The response's headers with ours in place of any of the same name (one pass over them:
    Starlette's MutableHeaders scans the list once per header set)."""
    kept = []
    own_csp = False
    for name, value in headers:
        lower = name.lower()
        if lower in replaced:
            continue
        own_csp = own_csp or lower == _CSP[0]
        kept.append((name, value))
    kept += _ADDED
    if not own_csp:
        kept.append(_CSP)
    if is_api:
        # Patient data: no browser, proxy or CDN may keep a copy.
        kept.append(_NO_STORE)
    return kept
