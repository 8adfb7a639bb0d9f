"""Each file's name tells its role: routes, dependencies and services hold no SQL (the
repositories do), and a service knows nothing of HTTP."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
# What these files may take from SQLAlchemy: the session's type, and errors to translate.
ALLOWED_SQLALCHEMY = {"sqlalchemy.ext.asyncio", "sqlalchemy.exc"}
RUNS_SQL = {"execute", "scalar", "scalars", "stream", "stream_scalars"}


def _modules(*names: str) -> list[Path]:
    """Files with one of these names, and every module of a package named like one of them
    (`inbound/service/` is a package of services)."""
    packages = {name.removesuffix(".py") for name in names}
    return sorted(
        path
        for path in APP.rglob("*.py")
        if path.name in names or (path.parent.name in packages and path.name != "__init__.py")
    )


def _imported(tree: ast.AST) -> set[str]:
    modules = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    return modules | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }


def _name(path: Path) -> str:
    return str(path.relative_to(APP))


@pytest.mark.parametrize("path", _modules("router.py", "service.py", "dependencies.py"), ids=_name)
def test_statements_live_in_repositories(path: Path) -> None:
    tree = ast.parse(path.read_text())
    builds = {
        module
        for module in _imported(tree)
        if module.split(".")[0] == "sqlalchemy" and module not in ALLOWED_SQLALCHEMY
    }
    runs = [
        f"line {node.lineno}: .{node.func.attr}("
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in RUNS_SQL
        and not _is_repository(node.func.value)
    ]
    assert not builds, f"{_name(path)} builds SQL with {builds}: move it to repository.py"
    assert not runs, f"{_name(path)} runs SQL ({runs}): move it to repository.py"


def _is_repository(receiver: ast.expr) -> bool:
    return isinstance(receiver, ast.Name) and receiver.id.endswith("repository")


@pytest.mark.parametrize("path", _modules("service.py"), ids=_name)
def test_services_know_nothing_of_http(path: Path) -> None:
    web = {
        m
        for m in _imported(ast.parse(path.read_text()))
        if m.split(".")[0] in {"fastapi", "starlette"}
    }
    assert not web, f"{_name(path)} imports {web}: a service that reads HTTP is a dependency"
