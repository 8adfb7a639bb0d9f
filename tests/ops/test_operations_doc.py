"""The operations docs stay true to the code: the settings table of docs/operations.md against
Settings, and the Citus plan of docs/scaling.md against the tables the models declare."""

import re
from pathlib import Path

from sqlalchemy import Table, UniqueConstraint

from app.config import Settings
from app.db import Base
from app.models import load_all_models

DOCS = Path(__file__).resolve().parents[2] / "docs"
CITUS_ROLES = {"distributed", "reference", "local"}


def _table_rows(document: Path, marker: str) -> list[list[str]]:
    """The body rows of the markdown table between `<!-- marker:start/end -->`, as cells."""
    text = document.read_text()
    found = re.search(rf"<!-- {marker}:start -->\n(.*?)<!-- {marker}:end -->", text, re.S)
    assert found, f"{document.name} has no {marker} table"
    lines = [line for line in found[1].splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _unquoted(cell: str) -> str:
    quoted = re.fullmatch(r"`([^`]+)`", cell)
    assert quoted, f"expected `code` in {cell!r}"
    return quoted[1]


def _shown(default: object) -> str:
    """How the table writes a default: unset, empty, or the value as the environment spells it."""
    if default is None:
        return "unset"
    if default == []:
        return "empty"
    return str(default)


def _variable(name: str, alias: object) -> str:
    """The environment variable of a setting: KAP_<NAME>, or its alias (a variable of another
    program, declared only to refuse it)."""
    return alias if isinstance(alias, str) else f"KAP_{name.upper()}"


def test_every_setting_is_in_the_operations_table_with_its_default() -> None:
    rows = _table_rows(DOCS / "operations.md", "settings")
    documented = {_unquoted(name): _unquoted(default) for name, default, _ in rows}
    assert len(documented) == len(rows), "a setting is listed twice"
    expected = {
        _variable(name, field.validation_alias): _shown(
            field.get_default(call_default_factory=True)
        )
        for name, field in Settings.model_fields.items()
    }
    assert sorted(documented) == sorted(expected), "the table and Settings list other settings"
    assert documented == expected, "a default in the table differs from Settings"


def _unique_keys(table: Table) -> list[tuple[str, ...]]:
    """Unique constraints and unique indexes, primary key excluded, as column-name tuples."""
    keys = [
        tuple(column.name for column in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    keys += [
        tuple(column.name for column in index.columns) for index in table.indexes if index.unique
    ]
    return keys


def test_the_citus_plan_covers_every_table_and_every_unique_key_without_clinic_id() -> None:
    load_all_models()
    rows = {
        _unquoted(name): (role, notes)
        for name, role, notes in _table_rows(DOCS / "scaling.md", "citus-tables")
    }
    assert sorted(rows) == sorted([*Base.metadata.tables, "alembic_version"])
    for name, (role, notes) in rows.items():
        assert role in CITUS_ROLES, (name, role)
        table = Base.metadata.tables.get(name)
        has_clinic = table is not None and "clinic_id" in table.c
        assert has_clinic == (role == "distributed"), f"{name}: {role} but clinic_id={has_clinic}"
        if table is None or not has_clinic:
            continue
        if table.c.clinic_id.nullable:
            assert "NULL" in notes, f"{name}: say what happens to rows without a clinic_id"
        for key in _unique_keys(table):
            if "clinic_id" not in key:
                missing = [column for column in key if not re.search(rf"\b{column}\b", notes)]
                assert not missing, f"{name}: the unique key {key} lacks clinic_id; plan for it"
