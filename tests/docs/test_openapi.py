"""The OpenAPI document teaches the API, and the pages that show it are self-contained."""

import re
from collections import Counter
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.errors import PROBLEM_JSON, PROBLEM_REF
from app.main import create_app

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
BASE_URL = "http://kap.test"
SNAKE_CASE = re.compile(r"[a-z]+(?:_[a-z0-9]+)+")
# The first word of an operationId. A new action verb belongs here if it reads well in
# generated clients (`client.resolve_unmatched_booking(...)`); a noun never does.
VERBS = {
    "get",
    "list",
    "create",
    "update",
    "delete",
    "revoke",
    "issue",
    "archive",
    "unarchive",
    "complete",
    "cancel",
    "mark",
    "reschedule",
    "resolve",
    "dismiss",
    "rotate",
    "test",
    "send",
    "resend",
    "receive",
    "replay",
    "withdraw",
    "export",
}
READ_VERBS = {"get", "list", "export"}
REMOVE_VERBS = {"delete", "revoke"}


@pytest.fixture(scope="module")
async def docs_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    """The app on a SQLite file it never opens: none of these requests touch the database."""
    database = tmp_path_factory.mktemp("openapi") / "unused.db"
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
    yield app
    await app.state.engine.dispose()


@pytest.fixture
async def client(docs_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=docs_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


Operation = tuple[str, str, dict[str, Any]]


def operations(spec: dict[str, Any]) -> list[Operation]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def name(method: str, path: str, operation: dict[str, Any]) -> str:
    return f"{method} {path} ({operation.get('operationId')})"


def test_the_document_is_openapi_3_with_operations(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["description"].strip()
    paths = {path for _, path, _ in operations(spec)}
    assert {"/api/v1/clients/{client_id}/journey", "/api/v1/ketamine-sessions"} <= paths


def test_every_operation_has_a_summary_and_a_description(spec: dict[str, Any]) -> None:
    missing = [
        name(*op)
        for op in operations(spec)
        if not op[2].get("summary", "").strip() or not op[2].get("description", "").strip()
    ]
    assert missing == [], f"add a one-line docstring to: {missing}"
    # ReDoc's sidebar lists operations by summary: two alike are two rows nobody can tell apart.
    summaries = Counter(op[2]["summary"] for op in operations(spec))
    assert [s for s, n in summaries.items() if n > 1] == []


def test_every_operation_has_a_declared_tag(spec: dict[str, Any]) -> None:
    declared = [tag["name"] for tag in spec.get("tags", [])]
    untagged = [
        name(*op)
        for op in operations(spec)
        if not op[2].get("tags") or not set(op[2]["tags"]) <= set(declared)
    ]
    assert untagged == [], f"tag these with a tag from TAGS in app/main.py: {untagged}"
    undescribed = [tag["name"] for tag in spec["tags"] if not tag.get("description", "").strip()]
    assert undescribed == []
    # A declared tag with no operations is an empty section in both UIs.
    used = {tag for _, _, operation in operations(spec) for tag in operation["tags"]}
    assert [tag for tag in declared if tag not in used] == []


def test_operation_ids_are_unique_snake_case_verb_noun(spec: dict[str, Any]) -> None:
    wrong: list[str] = []
    for method, path, operation in operations(spec):
        operation_id = operation.get("operationId", "")
        verb = operation_id.split("_", 1)[0]
        if not SNAKE_CASE.fullmatch(operation_id) or verb not in VERBS:
            wrong.append(f"{name(method, path, operation)}: not verb_noun")
        elif (method == "GET") != (verb in READ_VERBS):
            wrong.append(f"{name(method, path, operation)}: only GET reads (get_/list_)")
        elif method == "DELETE" and verb not in REMOVE_VERBS:
            wrong.append(f"{name(method, path, operation)}: DELETE should delete_/revoke_")
    assert wrong == []
    ids = Counter(operation.get("operationId") for _, _, operation in operations(spec))
    assert [operation_id for operation_id, n in ids.items() if n > 1] == []


def test_every_documented_4xx_is_a_problem(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    wrong = [
        f"{name(method, path, operation)} {status}: {sorted(response.get('content', {}))}"
        for method, path, operation in operations(spec)
        for status, response in operation["responses"].items()
        if status.startswith("4")
        and not path.startswith("/fhir/")  # OperationOutcome there: tests/fhir/test_capability.py
        and response.get("content") != {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    ]
    assert not wrong, "4xx responses not documented as problem+json Problem:\n" + "\n".join(wrong)


class _References(HTMLParser):
    """Every URL-valued attribute of a page (src, href, ReDoc's spec-url, ...)."""

    ATTRIBUTES = {"src", "href", "action", "srcset", "spec-url", "data", "poster"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for key, value in attrs if key in self.ATTRIBUTES and value]


def _outside(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc) and f"{parts.scheme}://{parts.netloc}" != BASE_URL


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_page_references_nothing_outside_the_app(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")

    parser = _References()
    parser.feed(response.text)
    assert parser.urls, "the page references no assets at all"
    assert [url for url in parser.urls if _outside(url)] == []
    # Inline scripts and styles are not attributes: no absolute URL anywhere in the page.
    assert re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", response.text) == []
    for url in parser.urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url

    # And the browser is told to refuse anything from another origin.
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert not re.search(r"https?:|\*", policy)


async def test_redoc_bundle_is_served_without_its_cdn_logo(client: httpx.AsyncClient) -> None:
    # ReDoc 2 draws its footer logo from cdn.redoc.ly whatever its options say.
    bundle = await client.get("/docs-assets/redoc.standalone.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "Redoc" in bundle.text
    assert "cdn.redoc.ly" not in bundle.text


def test_body_and_rate_limits_are_documented(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            assert "429" in operation["responses"], (method, path)
            if method in {"post", "patch"}:
                assert "413" in operation["responses"], (method, path)
