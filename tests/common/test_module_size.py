"""Modules stay small enough to read in one sitting: under 400 lines, code and tests alike."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400
TREES = ("app", "tests", "bench", "migrations")


def _modules() -> list[Path]:
    return sorted(path for tree in TREES for path in (ROOT / tree).rglob("*.py"))


def test_every_module_is_under_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules()
        if (lines := len(path.read_text().splitlines())) >= LIMIT
    }
    assert _modules(), "no modules found: the tree moved"
    assert not long, f"split these modules (limit {LIMIT} lines): {long}"
