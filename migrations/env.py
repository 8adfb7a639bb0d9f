"""Alembic environment: async engines, the app's metadata, batch mode for SQLite."""

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.audit.months import PARTITION_NAME
from app.config import get_settings
from app.db import Base, create_engine
from app.models import load_all_models

MIGRATION_LOCK = 0x4B41504A  # "KAPJ": the advisory lock key all migrating processes share

load_all_models()
config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.attributes.get("database_url") or get_settings().database_url
    assert isinstance(url, str)
    return url


def _include(obj: Any, name: str | None, kind: str, reflected: bool, compared: Any) -> bool:
    """Leave the audit trail's monthly partitions (and their indexes) out of autogenerate: the
    worker makes them, and their parent table is the model."""
    table = obj.table.name if kind == "index" else name
    return not (reflected and table is not None and PARTITION_NAME.fullmatch(table))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Replicas that start together each run `migrate`: the second waits for the first
            # here, then finds the database at head, instead of failing on a duplicate table.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _run_online() -> None:
    settings = get_settings().model_copy(update={"database_url": _database_url()})
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
