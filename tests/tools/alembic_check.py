"""`alembic check` against a scratch SQLite database migrated to head: models match migrations."""

import tempfile
from pathlib import Path

from alembic import command

from app.migrate import alembic_config, upgrade


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'check.db'}"
        upgrade(url)
        command.check(alembic_config(url))
    print("alembic check: models and migrations agree")


if __name__ == "__main__":
    main()
