"""On PostgreSQL a worklist's pages run on generic plans, asked for inside its own transaction
(app/journeys/repository.py): the request asks before its first page, and the setting ends
with the transaction, so no other statement on the pooled connection runs under it."""

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.journeys.repository import ONE_PLAN_PER_STATEMENT, use_generic_plans
from bench.scale.capture import normalized
from tests.support.factories import Clinic

ASKED = normalized(ONE_PLAN_PER_STATEMENT.text)
PLAN_CACHE_MODE = text("SHOW plan_cache_mode")


async def test_the_worklist_asks_for_generic_plans_before_its_pages(
    app: FastAPI, clinic: Clinic, backend: str
) -> None:
    sent: list[str] = []

    def record(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        sent.append(normalized(sql))

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await clinic.ok("GET", "/api/v1/worklists/integration")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    asked = [i for i, sql in enumerate(sent) if sql == ASKED]
    pages = [i for i, sql in enumerate(sent) if "FROM sessions" in sql]
    assert pages, sent
    if backend == "sqlite":  # no plan cache to ask of
        assert asked == []
    else:
        assert len(asked) == 1, sent
        assert asked[0] < min(pages), sent


async def test_generic_plans_end_with_the_transaction(app: FastAPI, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("PostgreSQL's plan cache: SQLite is sent nothing (above)")
    # One connection throughout: the setting must not outlive the transaction on it.
    async with app.state.engine.connect() as connection, AsyncSession(bind=connection) as db:
        before = (await db.execute(PLAN_CACHE_MODE)).scalar()
        assert before != "force_generic_plan"  # the server's own setting, `auto` by default
        await use_generic_plans(db)
        assert (await db.execute(PLAN_CACHE_MODE)).scalar() == "force_generic_plan"
        await db.commit()
        assert (await db.execute(PLAN_CACHE_MODE)).scalar() == before
