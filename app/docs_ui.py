"""/docs, /redoc and /docs/clinical-evidence served entirely by this app: the UIs' assets come
from the fastapi-offline package, the evidence page from this package (app/evidence/)."""

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from app.evidence.page import install_evidence_page

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
REDOC_JS = "redoc.standalone.js"

# ReDoc 2 hard-codes its "API docs by Redocly" footer logo to this CDN address; no option hides it.
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"

# The browser itself refuses anything not served by this app, so a future asset version that
# reaches for a CDN fails loudly in the console (and in the browser test) instead of leaking.
# Swagger UI boots from one inline script; both UIs inject styles; ReDoc searches in a blob worker.
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


@cache
def _redoc_bundle() -> bytes:
    """The ReDoc bundle with its one CDN reference replaced by an inline blank image."""
    source = (ASSETS / REDOC_JS).read_text(encoding="utf-8")
    return source.replace(REDOC_CDN_LOGO, BLANK_SVG).encode("utf-8")


def install_docs(app: FastAPI) -> None:
    """Mount the Swagger UI and ReDoc pages with local assets only, and the evidence page."""
    title = app.title
    install_evidence_page(app)

    # Registered before the mount so that it, not the static copy, answers for the bundle.
    @app.get(f"{ASSETS_URL}/{REDOC_JS}", include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(
            _redoc_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} — API docs",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={
                "persistAuthorization": True,
                "displayRequestDuration": True,
                # Never send the spec's address to the public validator service.
                "validatorUrl": None,
            },
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title} — API reference",
            redoc_js_url=f"{ASSETS_URL}/{REDOC_JS}",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page
