"""Spectral lints /openapi.json with `spectral:oas` and the OWASP API Security rules, as the
repository's .spectral.yaml configures them: no errors and no warnings.

The ruleset turns off, with a reason each, the rules that do not apply; everything else must pass.
FHIR operations (/fhir/R4) document their OperationOutcome errors in app/fhir (app/openapi.py
leaves them alone); Spectral checks them like every other operation.
"""

import copy
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from tests.support.node_tools import node_tools, run_tool

pytestmark = pytest.mark.process  # runs Node

RULESET = Path(__file__).parents[2] / ".spectral.yaml"
Finding = tuple[str, str, str]  # rule, where, message


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    database = tmp_path_factory.mktemp("spectral") / "unused.db"
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
    return app.openapi()


def lint(document: dict[str, Any], folder: Path) -> list[Finding]:
    """Spectral's findings on `document`, with the repository's ruleset."""
    tools = node_tools()
    (folder / "openapi.json").write_text(json.dumps(document))
    # Spectral finds the ruleset's npm extends from the ruleset's own folder: lint with a copy
    # placed beside the installed packages (never fetched from the network).
    beside = Path(tempfile.mkdtemp(dir=tools))
    try:
        shutil.copy(RULESET, beside / ".spectral.yaml")
        output = run_tool(
            tools,
            "spectral",
            "lint",
            "--ruleset",
            str(beside / ".spectral.yaml"),
            "--format",
            "json",
            "--quiet",
            str(folder / "openapi.json"),
            ok=frozenset({0, 1}),  # 1: it found something, listed in its output
        )
    finally:
        shutil.rmtree(beside, ignore_errors=True)
    return [
        (finding["code"], ".".join(map(str, finding["path"])), finding["message"])
        for finding in json.loads(output or "[]")
    ]


def test_the_document_passes_spectral_and_owasp(spec: dict[str, Any], tmp_path: Path) -> None:
    findings = lint(spec, tmp_path)
    assert findings == [], "\n".join(map(str, findings))


def test_spectral_finds_an_undocumented_401(spec: dict[str, Any], tmp_path: Path) -> None:
    """The lint above can fail: an authenticated operation without its 401 is reported."""
    broken = copy.deepcopy(spec)
    del broken["paths"]["/api/v1/clients"]["get"]["responses"]["401"]
    del broken["servers"]
    found = {(rule, where) for rule, where, _ in lint(broken, tmp_path)}
    assert (
        "owasp:api8:2023-define-error-responses-401",
        "paths./api/v1/clients.get.responses",
    ) in found
    assert ("oas3-api-servers", "") in found
