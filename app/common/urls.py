"""Absolute links to this service: on KAP_PUBLIC_URL when it is set, never on a Host header then.

Without the setting the request's own base is used, as the caller reached the service: its Host
header, and the scheme uvicorn reports (which follows `X-Forwarded-Proto` only from the proxies
it is told to trust, KAP_TRUSTED_PROXIES; this module never reads forwarding headers itself).
"""

from starlette.requests import Request


def public_base(request: Request) -> str:
    """The base every absolute link starts with, without a trailing slash."""
    configured: str | None = getattr(request.app.state.settings, "public_url", None)
    if configured:
        return configured
    return str(request.base_url).rstrip("/")


def public_url_of(request: Request) -> str:
    """This request's own URL (path and query) on the public base."""
    here = str(request.url)
    base = str(request.base_url).rstrip("/")
    if here.startswith(base):
        rest = here[len(base) :]
    else:  # both are built from the same scope; kept only as a safe fallback
        query = request.url.query
        rest = request.url.path + (f"?{query}" if query else "")
    return public_base(request) + rest
