"""The docs name only what exists: every module, attribute or path they cite in backticks.

`app.x.y` must import (or be an attribute of the longest importable prefix), and a path under
app/, tests/, bench/, migrations/ or docs/ must exist, so a move or a rename that forgets the docs
fails here rather than misleading a reader.
"""

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
DOTTED = re.compile(r"app(\.\w+)+")
PATH = re.compile(r"(app|tests|bench|migrations|docs)/[\w./-]*")


def _cited(doc: Path) -> list[str]:
    return re.findall(r"`([^`\n]+)`", doc.read_text(encoding="utf-8"))


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        module = ".".join(parts[:end])
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            target: object = importlib.import_module(module)
            for name in parts[end:]:
                if not hasattr(target, name):
                    return False
                target = getattr(target, name)
            return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_modules_and_paths_named_in_the_docs_exist(doc: Path) -> None:
    missing = [
        cited
        for cited in _cited(doc)
        if (DOTTED.fullmatch(cited) and not _resolves(cited))
        or (PATH.fullmatch(cited) and not (ROOT / cited).exists())
    ]
    assert not missing, f"{doc.name} names what does not exist: {missing}"
