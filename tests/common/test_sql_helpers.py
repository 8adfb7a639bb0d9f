"""`one_of` and `among`, the two IN helpers of app/db.py: what each renders on each database,
and that the statements built with them select what an IN list selects."""

import uuid
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import BigInteger, Dialect, bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from app.db import epoch_us, from_epoch_us
from app.db_direct import read_rows
from app.db_sets import among, one_of
from app.sessions.enums import ANCHORING_STATUSES
from app.sessions.models import ClinicalSession
from tests.support.factories import T0, Clinic

S = ClinicalSession
BY_IDS = select(S.id).where(one_of(S.id, "ids"))
ANCHORING_OF_CLIENT = select(S.id).where(
    S.client_id == bindparam("client_id"), among(S.status, ANCHORING_STATUSES)
)
NOT_ANCHORING_OF_CLIENT = select(S.id).where(
    S.client_id == bindparam("client_id"), ~among(S.status, ANCHORING_STATUSES)
)
ASYNCPG: Dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


@pytest.mark.unit
def test_one_of_is_one_array_parameter_on_postgresql() -> None:
    # One text whatever the number of values: asyncpg prepares it once per connection.
    sql = str(BY_IDS.compile(dialect=ASYNCPG))
    assert sql.endswith("WHERE sessions.id = ANY ($1::UUID[])")


@pytest.mark.unit
def test_one_of_is_an_expanding_list_on_sqlite() -> None:
    compiled = BY_IDS.compile(dialect=sqlite.dialect())
    assert "IN (__[POSTCOMPILE_ids])" in str(compiled)


@pytest.mark.unit
@pytest.mark.parametrize("dialect", [ASYNCPG, sqlite.dialect()])
def test_among_writes_the_values_into_the_text(dialect: Dialect) -> None:
    compiled = ANCHORING_OF_CLIENT.compile(dialect=dialect)
    assert "sessions.status IN ('scheduled', 'completed')" in str(compiled)
    assert list(compiled.params) == ["client_id"]  # nothing else bound


SESSIONS_OF_CLIENT = select(S.id).where(S.client_id == bindparam("client_id"))


async def test_both_select_what_an_in_list_selects(app: FastAPI, clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    scheduled = await clinic.integration(client["id"], T0)
    cancelled = await clinic.integration(client["id"], T0 + timedelta(days=1))
    await clinic.action("integration", cancelled["id"], "cancel", reason="rebook")
    of_client = {"client_id": uuid.UUID(client["id"])}
    chosen = [uuid.UUID(scheduled["id"]), uuid.UUID(cancelled["id"])]
    async with app.state.sessionmaker() as db:
        everything = {row.id for row in await read_rows(db, SESSIONS_OF_CLIENT, of_client)}
        by_ids = {row.id for row in await read_rows(db, BY_IDS, {"ids": chosen})}
        anchoring = {row.id for row in await read_rows(db, ANCHORING_OF_CLIENT, of_client)}
        other = {row.id for row in await read_rows(db, NOT_ANCHORING_OF_CLIENT, of_client)}
    assert by_ids == set(chosen)
    assert uuid.UUID(scheduled["id"]) in anchoring  # with the completed preparation
    assert other == {uuid.UUID(cancelled["id"])}
    assert anchoring | other == everything


@pytest.mark.unit
@pytest.mark.parametrize("dialect", [ASYNCPG, sqlite.dialect()])
def test_a_negated_set_is_grouped_and_no_condition_is_compared_to_1(dialect: Dialect) -> None:
    sql = str(NOT_ANCHORING_OF_CLIENT.compile(dialect=dialect))
    assert "NOT (sessions.status IN ('scheduled', 'completed'))" in sql
    assert "= 1" not in sql
    assert "= 0" not in sql


# `from_epoch_us` turns epoch microseconds back into a stored instant, to bound an index scan.
AT_OR_BEFORE_ITS_OWN = select(S.id).where(
    S.client_id == bindparam("client_id"),
    S.starts_at <= from_epoch_us(epoch_us(S.starts_at) + bindparam("shift", type_=BigInteger())),
)


async def test_from_epoch_us_is_epoch_us_inverse_to_the_microsecond(
    app: FastAPI, clinic: Clinic
) -> None:
    # Fractions at both ends, and none: each bound must fall exactly on the instant, as a
    # window's closing bound is compared with a dose's stored time on both databases.
    client = await clinic.prepared_client()
    offsets = (0, 1, 999_999, 123_456)
    for n, micros in enumerate(offsets):
        await clinic.integration(client["id"], T0 + timedelta(days=n, microseconds=micros))
    of_client = {"client_id": uuid.UUID(client["id"])}
    async with app.state.sessionmaker() as db:
        at = {
            row.id for row in await read_rows(db, AT_OR_BEFORE_ITS_OWN, {**of_client, "shift": 0})
        }
        before = await read_rows(db, AT_OR_BEFORE_ITS_OWN, {**of_client, "shift": -1})
        everything = {row.id for row in await read_rows(db, SESSIONS_OF_CLIENT, of_client)}
    assert at == everything
    assert len(at) == len(offsets) + 1  # with the completed preparation
    assert before == []


US = bindparam("us", type_=BigInteger())
ROUND_TRIP = select(from_epoch_us(US), epoch_us(from_epoch_us(US)))
EPOCH = datetime(1970, 1, 1)


@pytest.mark.parametrize(
    "us",
    [
        0,
        1,
        999_999,
        -1,  # 1969-12-31 23:59:59.999999
        -1_000_000,
        -2_208_988_800_000_000 + 123_456,  # 1900, the earliest instant the API accepts
        1_796_677_652_840_024,  # December 2026
        7_258_118_399_999_999,  # the end of 2199
    ],
)
async def test_from_epoch_us_and_epoch_us_undo_each_other(app: FastAPI, us: int) -> None:
    # The instant as the database holds it (SQLite: the stored text, which must parse as one),
    # and back to the same count.
    async with app.state.sessionmaker() as db:
        [(instant, back)] = await read_rows(db, ROUND_TRIP, {"us": us})
    assert instant.replace(tzinfo=None) == EPOCH + timedelta(microseconds=us)
    assert back == us
