"""Routers route and services decide: every SQL statement is built and run in a repository.

Read from the source (AST), not by grep, so `@router.delete(...)` or `digest.update(...)` do not
count and `from sqlalchemy import select as sa_select` does.
"""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
# sqlalchemy's statement builders: a call of one of these builds SQL.
BUILDERS = frozenset({"select", "insert", "update", "delete", "text"})
# Methods of a session or connection that run a statement.
RUNNERS = frozenset({"execute", "scalar", "scalars", "stream", "stream_scalars"})


def _checked_files() -> list[Path]:
    """Every `router.py` and `service.py`, and every module of a `service/` package."""
    return sorted(
        path
        for path in APP.rglob("*.py")
        if path.name in ("router.py", "service.py") or path.parent.name == "service"
    )


def _held(owner: ast.expr, imported: set[str]) -> bool:
    """`owner` is an object the code holds (a session, a connection), not an imported name."""
    root = owner
    while isinstance(root, ast.Attribute):
        root = root.value
    return isinstance(root, ast.Name) and root.id not in imported


def _sql_calls(source: str) -> list[tuple[int, str]]:
    """(line, call) of each statement built or run in the module."""
    tree = ast.parse(source)
    from_sqlalchemy: set[str] = set()  # local names of sqlalchemy's builders
    sqlalchemy_modules: set[str] = set()  # local names of sqlalchemy modules
    other_names: set[str] = set()  # names bound to something else
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            ours = (node.module or "").split(".")[0] == "sqlalchemy"
            for alias in node.names:
                local = alias.asname or alias.name
                if ours and alias.name in BUILDERS:
                    from_sqlalchemy.add(local)
                else:
                    other_names.add(local)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    sqlalchemy_modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            other_names.add(node.name)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            # A builder imported from sqlalchemy, or one of those names from nowhere we know.
            if name in from_sqlalchemy or (
                name in BUILDERS | {"execute"} and name not in other_names
            ):
                found.append((node.lineno, f"{name}("))
        elif isinstance(func, ast.Attribute):
            owner = func.value
            if (
                func.attr in BUILDERS
                and isinstance(owner, ast.Name)
                and owner.id in sqlalchemy_modules
            ):
                found.append((node.lineno, f"{owner.id}.{func.attr}("))
            # `db.execute(...)`, `self.db.scalars(...)`, `connection.execute(...)`, but not an
            # imported module's function (`repository.stream(...)`); a result's
            # `(await db.execute(...)).scalars()` is the same statement, already counted.
            elif func.attr in RUNNERS and _held(owner, other_names):
                found.append((node.lineno, f"{ast.unparse(owner)}.{func.attr}("))
    return sorted(found)


def test_the_checker_sees_statements_and_nothing_else() -> None:
    source = """
import hashlib
import sqlalchemy as sa
from sqlalchemy import select as pick, update
from app.db import clinic_scoped
from app.audit import repository

async def f(db, router, self):
    pick(A)
    await db.execute(clinic_scoped(A, 1))
    await self.db.scalars(sa.select(A))
    (await db.execute(update(A))).scalars()
    hashlib.sha256().update(b"x")
    router.delete("/x")
    clinic_scoped(A, 1)
    await repository.stream(db, 1)
"""
    assert _sql_calls(source) == [
        (9, "pick("),
        (10, "db.execute("),
        (11, "sa.select("),
        (11, "self.db.scalars("),
        (12, "db.execute("),
        (12, "update("),
    ]


def test_routers_and_services_hold_no_sql() -> None:
    offenders: dict[str, list[str]] = {}
    for path in _checked_files():
        calls = _sql_calls(path.read_text())
        if calls:
            name = str(path.relative_to(APP.parent))
            offenders[name] = [f"line {line}: {call}" for line, call in calls]
    total = sum(len(calls) for calls in offenders.values())
    listing = "\n".join(
        f"{name} ({len(calls)}): {', '.join(calls)}" for name, calls in offenders.items()
    )
    assert not offenders, (
        f"{total} SQL calls in {len(offenders)} routers and services; move them into the "
        f"domain's repository.py:\n{listing}"
    )
