"""The plans the scale tests read: each statement a request sent, EXPLAINed on the plan it ran
on (tests/scale/test_query_plans.py)."""

import json
from datetime import datetime
from typing import Any

import asyncpg

from app.journeys.repository import ONE_PLAN_PER_STATEMENT as ONE_PLAN
from bench.scale.capture import Recorder, Statement, normalized
from bench.scale.generate import Generated, driver_url

ONE_PLAN_PER_STATEMENT = normalized(ONE_PLAN.text)


class Scale:
    def __init__(self, url: str, made: Generated, recorder: Recorder) -> None:
        self.url = url
        self.made = made
        self.recorder = recorder


async def plans_of(
    scale: Scale, path: str, clinic_index: int = 0, *, analyze: bool = False
) -> list[tuple[str, Any]]:
    """(statement, plan) of every read of sessions the app sends for GET `path` (a SELECT, or
    one beginning with its common table expressions); with `analyze`, run and timed (EXPLAIN
    ANALYZE). Each is the plan it ran on: its generic plan when the request had asked for those
    before it (the worklist, app/journeys/repository.py), else one made for its values."""
    clinic = scale.made.clinics[clinic_index]
    response, statements = await scale.recorder.get(path.format(c=clinic), clinic.api_key)
    assert response.status_code == 200, response.text
    # A request is one transaction here: what it sends after asking for generic plans runs on
    # them (a request that committed between would need its COMMIT, which is not captured).
    generic_from = next(
        (i for i, s in enumerate(statements) if s.text == ONE_PLAN_PER_STATEMENT), len(statements)
    )
    reads = [
        (s, i > generic_from)
        for i, s in enumerate(statements)
        if s.text.startswith(("SELECT", "WITH")) and " sessions" in s.text
    ]
    assert reads, f"{path} read no sessions"
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    connection = await asyncpg.connect(driver_url(scale.url))
    try:
        plans = []
        for statement, generic in reads:
            explain = _explain_generic if generic else _explain
            explained = await explain(connection, options, statement)
            plans.append((statement.text, _json(explained)[0]["Plan"]))
    finally:
        await connection.close()
    return plans


async def _explain(connection: asyncpg.Connection, options: str, statement: Statement) -> Any:
    return await connection.fetchval(f"EXPLAIN ({options}) {statement.sql}", *statement.parameters)


async def _explain_generic(
    connection: asyncpg.Connection, options: str, statement: Statement
) -> Any:
    """The statement's generic plan (PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN)): prepared,
    and explained as executed with its values under the setting the app sends."""
    async with connection.transaction():
        await connection.execute(ONE_PLAN_PER_STATEMENT)
        await connection.execute(f"PREPARE explained AS {statement.sql}")
        values = ", ".join(literal(value) for value in statement.parameters)
        explained = await connection.fetchval(f"EXPLAIN ({options}) EXECUTE explained({values})")
        await connection.execute("DEALLOCATE explained")
    return explained


def literal(value: Any) -> str:
    """A captured value as an SQL literal of unknown type, which EXECUTE casts to its
    parameter's type (EXECUTE takes no bound parameters). An array's elements are quoted and
    escaped as PostgreSQL's array input reads them; a naive datetime is refused, since the
    server would read it in its own time zone where the driver sent it as UTC."""
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        return _quoted("{" + ",".join(_element(item) for item in value) + "}")
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"a naive datetime: {value!r}"
        return _quoted(value.isoformat())
    return _quoted(str(value))


def _element(item: Any) -> str:
    if item is None:
        return "NULL"
    text = item.isoformat() if isinstance(item, datetime) else str(item)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
