"""A frontend's typed client: `openapi-typescript` types from /openapi.json, and the README's own
requests compiled against them with `tsc --strict`.

openapi-typescript reads a schema's `default` as "always present", so a request field with a
default once became mandatory in TypeScript and `tsc` refused the README's session creates
(`location`) and webhook endpoint creates (`enabled`). app/openapi.py states request defaults in
words; this test keeps every request the README sends, and every field it reads, compiling.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from tests.support.node_tools import node_tools, run_tool
from tests.support.readme_requests import TourCall, tour_calls, typescript_of

pytestmark = pytest.mark.process  # runs Node

README = Path(__file__).parents[2] / "README.md"
TSC = ["--strict", "--noEmit", "--target", "es2022", "--module", "es2022"]
TSC_OPTIONS = [*TSC, "--moduleResolution", "bundler", "--skipLibCheck"]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document the app serves (building the app opens no database)."""
    database = tmp_path_factory.mktemp("ts") / "unused.db"
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
    return app.openapi()


@pytest.fixture(scope="module")
def calls() -> list[TourCall]:
    return tour_calls(README.read_text())


def test_the_tour_sends_bodies_and_reads_answers(calls: list[TourCall]) -> None:
    # A tour rewritten past what tour_calls reads would otherwise compile nothing.
    assert sum(call.body is not None for call in calls) >= 5
    assert sum(call.read is not None for call in calls) >= 5
    paths = {call.path for call in calls}
    assert {"clients", "ketamine-sessions", "integration-sessions"} <= paths


def _compile(spec: dict[str, Any], source: str, folder: Path, *, refused: bool = False) -> str:
    """Generate the types, then compile `source` against them: tsc's output. `refused`: tsc
    must reject it (exit status 1 or 2) rather than accept it."""
    tools = node_tools()
    document, types, requests = (
        folder / "openapi.json",
        folder / "schema.ts",
        folder / "requests.ts",
    )
    document.write_text(json.dumps(spec))
    run_tool(tools, "openapi-typescript", str(document), "-o", str(types))
    requests.write_text(source)
    ok = frozenset({1, 2}) if refused else frozenset({0})
    return run_tool(tools, "tsc", *TSC_OPTIONS, str(requests), ok=ok)


# Not in the tour, but named by the issue: `enabled` defaults to true and may be left out.
ENDPOINT_CREATE = TourCall(
    "post",
    "webhook-endpoints",
    '{"url": "https://hooks.cedar.example/kap", "event_types": ["session.scheduled"]}',
    ("secret",),
)


def test_the_readme_requests_compile_with_strict_typescript(
    spec: dict[str, Any], calls: list[TourCall], tmp_path: Path
) -> None:
    _compile(spec, typescript_of([*calls, ENDPOINT_CREATE], spec, "./schema"), tmp_path)


def test_tsc_refuses_a_request_the_document_does_not_accept(
    spec: dict[str, Any], calls: list[TourCall], tmp_path: Path
) -> None:
    """The compile above can fail: a body with an unknown field does not compile."""
    [create] = [call for call in calls if call.path == "clients"]
    body = json.loads(create.body or "{}") | {"favourite_colour": "teal"}
    wrong = TourCall(create.method, create.path, json.dumps(body), None)
    output = _compile(spec, typescript_of([wrong], spec, "./schema"), tmp_path, refused=True)
    assert "favourite_colour" in output
