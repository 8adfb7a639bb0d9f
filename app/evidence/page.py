"""`GET /docs/clinical-evidence`: the evidence markdown as one self-contained HTML page.

Rendered once per process. The page loads nothing: no script, image or font, and its one inline
stylesheet is allowed by its hash, so the API's locked-down Content-Security-Policy still holds.
Headings get GitHub-style ids, the same anchors the markdown has on GitHub, which the OpenAPI
descriptions of the policy fields link to.
"""

import base64
import hashlib
import re
from functools import cache

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

from app.evidence.source import read_page
from app.security.headers import API_CSP

PATH = "/docs/clinical-evidence"
TITLE = "KAP Journey — clinical evidence"

STYLE = (
    "body{margin:0 auto;max-width:64rem;padding:1rem 1.5rem 4rem;"
    "font:16px/1.55 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f23}"
    "nav{font-size:.9rem;margin-bottom:1rem}"
    "h2{margin-top:2.5rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.92rem}"
    "th,td{border:1px solid #d0d7de;padding:.35rem .6rem;vertical-align:top;text-align:left}"
    "th{background:#f6f8fa}"
    "code{background:#f6f8fa;padding:.1rem .25rem;border-radius:3px;font-size:.88em}"
    ":target{scroll-margin-top:1rem;background:#fff8c5}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
EVIDENCE_CSP = f"{API_CSP}; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<nav><a href="/docs">API docs</a> · <a href="/redoc">API reference</a></nav>
<main>
{body}</main>
</body>
</html>
"""

_NOT_IN_SLUG = re.compile(r"[^\w\- ]")


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return _NOT_IN_SLUG.sub("", text.strip().lower()).replace(" ", "-")


def _heading_ids(state: StateCore) -> None:
    seen: dict[str, int] = {}
    for index, token in enumerate(state.tokens):
        if token.type != "heading_open":
            continue
        inline = state.tokens[index + 1].children or []
        base = slug("".join(t.content for t in inline if t.type in {"text", "code_inline"}))
        count = seen.get(base, 0)
        seen[base] = count + 1
        token.attrSet("id", f"{base}-{count}" if count else base)


def render(markdown: str) -> str:
    """The whole HTML document for a markdown text (raw HTML in it is ours: `<a id=...>`)."""
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    parser.core.ruler.push("heading_ids", _heading_ids)
    return _PAGE.format(title=TITLE, style=STYLE, body=parser.render(markdown))


@cache
def evidence_html() -> str:
    return render(read_page())


def install_evidence_page(app: FastAPI) -> None:
    """Serve the page beside /docs; a build that left the markdown out fails here, at start-up."""
    evidence_html()

    @app.get(PATH, include_in_schema=False)
    async def clinical_evidence() -> HTMLResponse:
        return HTMLResponse(evidence_html(), headers={"Content-Security-Policy": EVIDENCE_CSP})
