"""Writing and reading rows in migration tests with the columns a revision knows, not the
models' (which describe the newest schema)."""

from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app.migrate import alembic_config

# Every mutable table's bookkeeping columns.
STAMP_COLUMNS = (
    ("created_at", sa.DateTime(timezone=True)),
    ("updated_at", sa.DateTime(timezone=True)),
    ("version", sa.Integer()),
)


def revision_before(revision: str, url: str) -> str:
    """The revision `revision` follows, read from the scripts (the chain may be re-ordered)."""
    down = ScriptDirectory.from_config(alembic_config(url)).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


def table(name: str, *columns: tuple[str, Any]) -> sa.TableClause:
    """The columns of a table a test names, typed so each database stores them its own way."""
    return sa.table(name, *(sa.column(column, kind) for column, kind in columns))
