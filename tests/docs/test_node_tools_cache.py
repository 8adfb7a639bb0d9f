"""The Node tool tests skip only where Node is missing, and never in CI."""

import shutil
from pathlib import Path

import pytest

from tests.support import node_tools


def _without_node(monkeypatch: pytest.MonkeyPatch, *, in_ci: bool) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    monkeypatch.setattr(node_tools, "IN_CI", in_ci)


def test_without_npm_the_tests_skip_and_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_node(monkeypatch, in_ci=False)
    with pytest.raises(pytest.skip.Exception, match="node and npm not found"):
        node_tools.node_tools()


def test_without_npm_in_ci_the_tests_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_node(monkeypatch, in_ci=True)
    with pytest.raises(pytest.fail.Exception, match="CI must have it"):
        node_tools.node_tools()


def test_the_cache_is_outside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAP_NODE_TOOLS_CACHE", raising=False)
    repository = Path(__file__).resolve().parents[2]
    assert not node_tools.cache_root().resolve().is_relative_to(repository)
