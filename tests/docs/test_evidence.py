"""The clinical evidence page: served as self-contained HTML, and every link to it lands.

Every `/docs/clinical-evidence#<anchor>` written anywhere in app/ must name a section the page
has, and every field of a clinic's `window_policy` and `clinical_policy` in the OpenAPI document
must link to one, so a policy field added without its evidence fails here.
"""

import re
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.evidence.page import EVIDENCE_CSP, PATH, render, slug
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
BASE_URL = "http://kap.test"
LINK = re.compile(r"/docs/clinical-evidence#([A-Za-z0-9_-]+)")
# The sections other code and the issue tracker link to by name; renaming one breaks links.
SECTIONS = {
    "integration-window",
    "closing-soon",
    "pre-dose-blood-pressure",
    "esketamine-monitoring",
    "rems-form-due",
    "rems-monitoring-record",
    "contraindications",
    "screening-validity",
    "dosing-gate",
    "consent",
    "phq9-item-9",
    "pcl5-cutoff",
    "prescriber-acts",
    "phq9-gad7-bands",
}
# Elements and attributes through which a page loads something (a link's href only navigates).
LOADS = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "embed": "src",
    "object": "data",
    "source": "src",
    "video": "src",
    "audio": "src",
    "track": "src",
    "input": "src",
    "link": "href",
}


class _Page(HTMLParser):
    """The ids, the in-page links and everything a page would load."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.fragments: list[str] = []
        self.loads: list[str] = []
        self.inline_css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"] or "")
        href = values.get("href") or ""
        if tag == "a" and href.startswith("#"):
            self.fragments.append(href[1:])
        if tag in LOADS or "style" in values or "srcset" in values:
            self.loads.append(f"<{tag}> {values.get(LOADS.get(tag, 'src'))}")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.inline_css.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
async def docs_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    """The app on a SQLite file it never opens: the page and the spec need no database."""
    database = tmp_path_factory.mktemp("evidence") / "unused.db"
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
    yield app
    await app.state.engine.dispose()


@pytest.fixture
async def client(docs_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=docs_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def served(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.get(PATH)
    assert response.status_code == 200
    return response


def _linked_from_app() -> dict[str, set[str]]:
    """Anchor -> the app/ files that link to it."""
    linked: dict[str, set[str]] = {}
    for path in sorted(APP.rglob("*")):
        if path.suffix in {".py", ".md", ".html", ".txt"}:
            for anchor in LINK.findall(path.read_text(encoding="utf-8")):
                linked.setdefault(anchor, set()).add(str(path.relative_to(ROOT)))
    return linked


async def test_every_evidence_link_in_the_app_names_a_section(served: httpx.Response) -> None:
    ids = set(parse(served.text).ids)
    linked = _linked_from_app()
    # The policy fields link here; an empty scan would mean the pattern broke, not that all is well.
    assert {"integration-window", "closing-soon", "pcl5-cutoff", "rems-form-due"} <= set(linked)
    dangling = {anchor: files for anchor, files in linked.items() if anchor not in ids}
    assert dangling == {}, f"links to sections the page does not have: {dangling}"


async def test_the_page_has_every_named_section_once(served: httpx.Response) -> None:
    ids = parse(served.text).ids
    assert set(ids) >= SECTIONS, SECTIONS - set(ids)
    assert sorted(i for i in ids if ids.count(i) > 1) == []


async def test_in_page_links_land_on_a_section(served: httpx.Response) -> None:
    page = parse(served.text)
    assert set(page.fragments) >= SECTIONS, "the table of contents misses a section"
    assert [f for f in page.fragments if f not in page.ids] == []


async def test_the_page_is_html_that_loads_nothing(served: httpx.Response) -> None:
    assert served.headers["content-type"].startswith("text/html")
    page = parse(served.text)
    assert page.loads == [], f"the page loads: {page.loads}"
    assert len(page.inline_css) == 1
    assert not re.search(r"url\(|@import", page.inline_css[0])
    # The browser is told so too: nothing but the one stylesheet, allowed by its hash.
    policy = served.headers["content-security-policy"]
    assert policy == EVIDENCE_CSP
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert not re.search(r"https?:|\*|'unsafe-|'self'", policy)
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_the_page_is_not_in_the_api_schema(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert not [path for path in spec["paths"] if "evidence" in path]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema a property refers to, through `$ref` and `anyOf: [X, null]`."""
    for candidate in [schema, *schema.get("anyOf", [])]:
        ref = candidate.get("$ref")
        if ref:
            resolved: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
            return resolved
    return None


def _fields(spec: dict[str, Any], schema: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for name, field in schema.get("properties", {}).items():
        yield f"{prefix}.{name}", field
        nested = _resolve(spec, field)
        if nested is not None:
            yield from _fields(spec, nested, f"{prefix}.{name}")


def _policy_fields(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every field, nested ones too, of both policies as the clinic reads and patches them."""
    schemas = spec["components"]["schemas"]
    found: dict[str, dict[str, Any]] = {}
    for owner in ("ClinicRead", "ClinicUpdate"):
        for policy in ("window_policy", "clinical_policy"):
            resolved = _resolve(spec, schemas[owner]["properties"][policy])
            assert resolved is not None, f"{owner}.{policy} is not an object"
            found.update(_fields(spec, resolved, f"{owner}.{policy}"))
    return found


async def test_every_policy_field_links_to_its_evidence(
    client: httpx.AsyncClient, served: httpx.Response
) -> None:
    spec = (await client.get("/openapi.json")).json()
    fields = _policy_fields(spec)
    assert {
        "ClinicRead.window_policy.closes_after_hours.oral",
        "ClinicUpdate.clinical_policy.pre_dose_bp_max.diastolic",
        "ClinicRead.clinical_policy.rems_form_due_days",
    } <= set(fields)
    unlinked = [name for name, f in fields.items() if not LINK.search(f.get("description", ""))]
    assert unlinked == [], f"add 'Evidence: [...](/docs/clinical-evidence#...)' to: {unlinked}"
    ids = set(parse(served.text).ids)
    wrong = {
        name: anchor
        for name, field in fields.items()
        for anchor in LINK.findall(field["description"])
        if anchor not in ids
    }
    assert wrong == {}


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Pre-dose blood pressure", "pre-dose-blood-pressure"),
        ("PHQ-9 item 9", "phq-9-item-9"),
        ("REMS form due", "rems-form-due"),
        ("  What's `new`?  ", "whats-new"),
        ("Über alles", "über-alles"),
    ],
)
def test_heading_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_repeated_headings_get_numbered_anchors() -> None:
    page = parse(render('# Notes\n\n## Notes\n\n## Notes\n\n## <a id="x-y"></a>Other\n'))
    assert page.ids == ["notes", "notes-1", "notes-2", "other", "x-y"]
