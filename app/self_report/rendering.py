"""The client's pages: Jinja2 templates (autoescaped) and the headers every page carries.

The pages load nothing: one inline stylesheet, allowed by its hash, no script, no image, no
font. The token is in the URL, so no page is cached or sends a Referer.
"""

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from app.errors import AppError

PAGE_PREFIX = "/r/"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class _Assets:
    stylesheet: str
    headers: dict[str, str]
    templates: Environment


@cache
def _assets() -> _Assets:
    """Read once, on the first page (not at import: app.security imports this module)."""
    stylesheet = (TEMPLATES / "page.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(stylesheet.encode()).digest()).decode()
    csp = (
        f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    headers = {
        "Content-Security-Policy": csp,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex, nofollow",
    }
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return _Assets(stylesheet, headers, templates)


def is_page_path(path: str) -> bool:
    return path.startswith(PAGE_PREFIX)


def page(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """A rendered page with the page headers (and any of the caller's, e.g. Retry-After)."""
    assets = _assets()
    body = assets.templates.get_template(template).render(stylesheet=assets.stylesheet, **context)
    return HTMLResponse(body, status_code=status, headers={**(headers or {}), **assets.headers})


@dataclass(frozen=True)
class Notice:
    """What an error page says: a heading and what the reader can do about it."""

    heading: str
    advice: str


_GONE = {
    "completed": Notice(
        "This form has already been sent",
        "Each link works once, and your answers were received. There is nothing more to do.",
    ),
    "expired": Notice("This link has expired", "Please ask your clinic to send you a new link."),
    "revoked": Notice(
        "This link is no longer active", "Please ask your clinic to send you a new link."
    ),
}
_NOTICES = {
    404: Notice(
        "This link does not work",
        "Check that you opened the whole link you were sent, or ask your clinic for a new one.",
    ),
    413: Notice("The form was too large to read", "Please go back and send the form again."),
    415: Notice(
        "The form could not be read",
        "Please go back and send the form again from the page your clinic's link opens.",
    ),
    422: Notice("The form could not be read", "Please go back and send the form again."),
    429: Notice(
        "Too many attempts",
        "Please wait a minute, then reload the page. Your answers have not been sent yet.",
    ),
}
_FALLBACK = Notice(
    "Something went wrong", "Your answers have not been sent. Please try again in a few minutes."
)


def notice_for(error: AppError) -> Notice:
    if error.status == 410:
        return _GONE.get(str(error.extra.get("link_status")), _GONE["revoked"])
    return _NOTICES.get(error.status, _FALLBACK)


def error_page(error: AppError, clinic_name: str | None = None) -> HTMLResponse:
    """The page for a failure on a link: its status, its headers (Retry-After) and a notice
    that says nothing about the client."""
    keep = {k: v for k, v in error.headers.items() if k.lower() != "www-authenticate"}
    notice = notice_for(error)
    return page(
        "notice.html", error.status, keep, notice=notice, clinic_name=clinic_name, crisis=True
    )
