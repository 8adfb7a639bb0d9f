"""At 1M sessions the journey, the worklist and the window filters read sessions through indexes.

A scratch PostgreSQL database is filled with a million sessions by bench.scale.generate (twenty
clinics, five years of realistic journeys, then VACUUM ANALYZE). The app runs in-process on it;
each request's statements are captured from the app's own engine (bench.scale.capture), and every
SELECT that reads `sessions` is EXPLAINed with the parameters it was sent with, on the plan it ran
on (a worklist's pages run on generic plans). No plan may scan the sessions table sequentially:
that would be a read of every clinic's whole history.

PostgreSQL only (the plans are PostgreSQL's); skipped without it locally, failed in CI.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from bench.scale.capture import recording_app
from bench.scale.generate import driver_url, generate
from tests.scale.explained import Scale, literal, plans_of
from tests.scale.plan_walks import (
    booking_checks,
    client_lookups,
    per_row_client_scans,
    per_row_history_reads,
    rows_read,
    rows_read_by_clinician,
    scans_of,
    seq_scans_of_sessions,
)
from tests.support import databases

SESSIONS = 1_000_000
INTEGRATION_STATUSES = ("not_applicable", "booked_in_window", "unbooked", "missed")
PAGE = 50  # the worklist's default limit
WINDOW_STATUSES = ("no_ketamine_session", "before_window", "in_window", "after_window")


@pytest.fixture(scope="module")
async def scale() -> AsyncIterator[Scale]:
    async with databases.scratch_postgres() as url:
        made = await generate(url, SESSIONS)
        assert made.sessions == SESSIONS
        async with recording_app(url) as recorder:
            yield Scale(url, made, recorder)


WORKLISTS = [
    "/api/v1/clients/{c.client_ids[0]}/journey",
    "/api/v1/worklists/integration",
    "/api/v1/worklists/integration?clinician_id={c.clinician_ids[0]}",
]
# The partial index each worklist's outside-window page judges scheduled integrations from.
JUDGED_FROM = dict(
    zip(
        WORKLISTS[1:],
        ("ix_sessions_scheduled_integrations", "ix_sessions_clinician_scheduled_integrations"),
        strict=True,
    )
)
FILTERS = [f"/api/v1/ketamine-sessions?integration_status={s}" for s in INTEGRATION_STATUSES] + [
    f"/api/v1/integration-sessions?window_status={s}" for s in WINDOW_STATUSES
]


async def _count(scale: Scale, sql: str, value: Any = None) -> int:
    """A count of rows of the 1M database, `$1` the value given (else the first clinic's id)."""
    connection = await asyncpg.connect(driver_url(scale.url))
    try:
        first_clinic = scale.made.clinics[0].clinic_id
        count: int = await connection.fetchval(sql, first_clinic if value is None else value)
    finally:
        await connection.close()
    return count


async def test_literals_read_back_as_the_values_captured(scale: Scale) -> None:
    # The generic plans are explained with the captured values written as literals
    # (tests/scale/explained.py): each must reach PostgreSQL as the value the driver sent.
    at = datetime(2026, 3, 2, 15, 0, 0, 123456, tzinfo=UTC)
    values: list[tuple[Any, str]] = [
        (uuid.uuid4(), "uuid"),
        ([uuid.uuid4(), uuid.uuid4()], "uuid[]"),
        ([1, 2], "integer[]"),
        (["a,b", 'x"y', " lead", None, "", "back\\slash", "{}"], "text[]"),
        (at, "timestamptz"),
        ("it's", "text"),
        (True, "boolean"),
        (None, "text"),
        (1796687266346282, "bigint"),
    ]
    connection = await asyncpg.connect(driver_url(scale.url))
    try:
        for value, type_ in values:
            read = await connection.fetchval(f"SELECT {literal(value)}::{type_}")
            assert read == value, (value, type_, read)
    finally:
        await connection.close()


@pytest.mark.parametrize("path", WORKLISTS + FILTERS)
async def test_no_sequential_scan_of_sessions(scale: Scale, path: str) -> None:
    for text, plan in await plans_of(scale, path):
        scans = list(seq_scans_of_sessions(plan))
        assert not scans, f"{path}: a sequential scan of sessions in the plan of\n{text}"


async def test_a_clinicians_worklist_does_not_read_the_clinicians_history(scale: Scale) -> None:
    # A clinician's sessions span the five generated years; the worklist needs only their doses
    # whose window may still be open and their scheduled integrations.
    clinician = scale.made.clinics[0].clinician_ids[0]
    history = await _count(
        scale, "SELECT count(*) FROM sessions WHERE clinician_id = $1", clinician
    )
    path = f"/api/v1/worklists/integration?clinician_id={clinician}"
    plans = await plans_of(scale, path, analyze=True)
    read = sum(rows_read_by_clinician(plan) for _, plan in plans)
    assert 0 < read <= history // 10, f"read {read} rows of a history of {history}"


@pytest.mark.parametrize("path", WORKLISTS[1:])
async def test_a_worklist_reads_no_clients_history_per_dose(scale: Scale, path: str) -> None:
    # A client in care for years has hundreds of sessions; the rule's subqueries run once per
    # dose or integration considered, and each reads that client's sessions from an instant on.
    for text, plan in await plans_of(scale, path):
        unbounded = list(per_row_history_reads(plan))
        assert not unbounded, (
            f"{path}: a client's whole history read per row ({unbounded}):\n{text}"
        )


@pytest.mark.parametrize("path", WORKLISTS[1:])
async def test_a_worklist_looks_up_clients_only_for_the_doses_it_keeps(
    scale: Scale, path: str
) -> None:
    # About one dose in five whose window may still be open is unbooked; as a filter of its
    # own, the archived flag (the cheaper test) ran first, for every one of them.
    unbooked_text, unbooked = (await plans_of(scale, path, analyze=True))[0]
    assert "EXISTS" in unbooked_text, unbooked_text  # the unbooked doses come first
    found = list(client_lookups(unbooked))
    assert found, f"{path}: no client lookup in the plan of\n{unbooked_text}"
    for lookups, considered in found:
        assert lookups <= considered // 2, (
            f"{path}: the client looked up {lookups} times for {considered} doses considered"
        )


@pytest.mark.parametrize("path", WORKLISTS[1:])
async def test_a_worklists_checks_per_dose_read_the_index_alone(scale: Scale, path: str) -> None:
    # Each of the some 300 doses a page considers is checked for a booked integration, and each
    # check reads the client's sessions from the dose on: from the client-sessions index alone,
    # which holds what the check reads, rather than from heap pages spread over the whole table
    # (docs/performance.md, fourteenth pass). The generator's VACUUM leaves every page visible.
    for text, plan in await plans_of(scale, path):
        reads = [scan["Node Type"] for scan in per_row_client_scans(plan)]
        assert "EXISTS" not in text or reads, f"{path}: no per-dose read in the plan of\n{text}"
        assert set(reads) <= {"Index Only Scan"}, f"{path}: {reads} in the plan of\n{text}"


async def test_an_unbooked_page_checks_the_doses_near_it_not_every_open_one(scale: Scale) -> None:
    # The page is ordered by closing time, which no index gives; found in two steps in T(K)
    # order (app/journeys/repository.py), it checks about a third of the doses whose window may
    # still be open for a booking, where ordering them all checked every one (docs/performance.md,
    # sixteenth pass). Most are scheduled weeks or months ahead, far down the page.
    may_be_open = await _count(
        scale,
        "SELECT count(*) FROM sessions s JOIN clinics c ON c.id = s.clinic_id"
        " WHERE s.clinic_id = $1 AND s.kind = 'ketamine'"
        " AND s.status IN ('scheduled', 'completed') AND coalesce(s.ended_at, s.ends_at)"
        " >= now() - greatest(c.window_closes_iv_s, c.window_closes_im_s,"
        " c.window_closes_intranasal_s, c.window_closes_sublingual_s,"
        " c.window_closes_oral_s) * interval '1 second'",
    )
    unbooked_text, unbooked = (await plans_of(scale, WORKLISTS[1], analyze=True))[0]
    checks = booking_checks(unbooked)
    assert 0 < checks <= may_be_open // 2, (
        f"{checks} booking checks for {may_be_open} doses whose window may be open:\n"
        f"{unbooked_text}"
    )


async def test_an_outside_window_page_reads_scheduled_sessions_up_to_the_page(
    scale: Scale,
) -> None:
    # The page keeps about one scheduled integration in eight (those outside their window), in
    # start order: read from the index in that order, it stops at the page, rather than judging
    # and sorting every scheduled integration of the clinic; and it asks after archived clients
    # only for the sessions it keeps, not for each one read (app/journeys/repository.py).
    scheduled = await _count(
        scale,
        "SELECT count(*) FROM sessions WHERE clinic_id = $1"
        " AND kind = 'integration' AND status = 'scheduled'",
    )
    text, plan = (await plans_of(scale, WORKLISTS[1], analyze=True))[1]
    read = sum(
        rows_read(scan)
        for scan in scans_of(plan, "sessions")
        if scan.get("Index Name") == "ix_sessions_scheduled_integrations"
    )
    assert 0 < read <= scheduled // 2, f"{read} of {scheduled} scheduled read by\n{text}"
    asked = sum(scan.get("Actual Loops", 1) for scan in scans_of(plan, "clients"))
    assert 0 < asked <= PAGE < read, f"archived clients asked {asked} times by\n{text}"


@pytest.mark.parametrize("path", WORKLISTS[1:])
async def test_an_outside_window_page_judges_from_indexes_and_reads_only_its_rows(
    scale: Scale, path: str
) -> None:
    # To keep its 50 rows the page judges some 440 scheduled integrations and the dose anchoring
    # each. Read whole, those were heap rows spread over the table, most from outside
    # shared_buffers at 1M (docs/performance.md, eighteenth pass). They are judged from partial
    # indexes alone (app/sessions/models.py) and only the rows kept are read whole, by primary
    # key. (Whether an index-only read still visits a heap page is the visibility map's state,
    # not the statement's: a few do in some runs, so the plan's reads are what is held.)
    text, plan = (await plans_of(scale, path, analyze=True))[1]
    scans = list(scans_of(plan, "sessions"))
    whole = [(scan["Node Type"], scan.get("Index Name")) for scan in scans]
    whole = [where for where in whole if where[0] != "Index Only Scan"]
    assert set(whole) == {("Index Scan", "pk_sessions")}, f"{whole} in\n{text}"
    index = JUDGED_FROM[path]
    judged = sum(rows_read(scan) for scan in scans if scan.get("Index Name") == index)
    shown = sum(rows_read(scan) for scan in scans if scan.get("Index Name") == "pk_sessions")
    assert 0 < shown <= PAGE, f"{shown} rows read whole by\n{text}"
    assert shown < judged, f"{judged} judged from {index}, {shown} read whole, by\n{text}"


@pytest.mark.parametrize("path", WORKLISTS[1:])
async def test_a_worklist_asks_after_its_clinics_archived_clients_alone(
    scale: Scale, path: str
) -> None:
    # Each dose or integration a page keeps is asked whether its client is archived, of
    # `ix_clients_clinic_archived`, which holds only those, by clinic, from the index alone:
    # not the primary key and the row (docs/performance.md, sixteenth pass), nor every
    # clinic's archived clients (3,261 at 1M against some 160 of one clinic; seventeenth).
    archived = await _count(scale, "SELECT count(*) FROM clients WHERE clinic_id = $1 AND archived")
    asked = 0
    for text, plan in await plans_of(scale, path, analyze=True):
        for scan in scans_of(plan, "clients"):
            asked += 1
            where = (scan["Node Type"], scan.get("Index Name"))
            assert where == ("Index Only Scan", "ix_clients_clinic_archived"), f"{where} in\n{text}"
            per_loop = scan.get("Actual Rows", 0)
            assert per_loop <= archived, f"{per_loop} archived clients read by\n{text}"
    assert asked, f"{path}: no statement asked after archived clients"
