"""At 1M sessions the journey, the worklist and the window filters read sessions through indexes.

A scratch PostgreSQL database is filled with a million sessions by bench.scale.generate (twenty
clinics, five years of realistic journeys, then VACUUM ANALYZE). The app runs in-process on it;
each request's statements are captured from the app's own engine (bench.scale.capture), and every
SELECT that reads `sessions` is EXPLAINed with the parameters it was sent with, on the plan it ran
on (a worklist's pages run on generic plans). No plan may scan the sessions table sequentially:
that would be a read of every clinic's whole history.

PostgreSQL only (the plans are PostgreSQL's); skipped without it locally, failed in CI.
"""

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from bench.scale.capture import recording_app
from bench.scale.generate import driver_url, generate
from tests.scale.explained import Scale, literal, plans_of
from tests.support import databases

SESSIONS = 1_000_000
INTEGRATION_STATUSES = ("not_applicable", "booked_in_window", "unbooked", "missed")
WINDOW_STATUSES = ("no_ketamine_session", "before_window", "in_window", "after_window")


@pytest.fixture(scope="module")
async def scale() -> AsyncIterator[Scale]:
    async with databases.scratch_postgres() as url:
        made = await generate(url, SESSIONS)
        assert made.sessions == SESSIONS
        async with recording_app(url) as recorder:
            yield Scale(url, made, recorder)


def scans_of(plan: dict[str, Any], relation: str) -> Iterator[dict[str, Any]]:
    """Every node of a plan tree (subplans included) that reads `relation`."""
    if plan.get("Relation Name") == relation:
        yield plan
    for child in plan.get("Plans", ()):
        yield from scans_of(child, relation)


def seq_scans_of_sessions(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a plan tree (init plans and subplans included) that reads `sessions`
    sequentially."""
    return (scan for scan in scans_of(plan, "sessions") if "Seq Scan" in scan["Node Type"])


def test_the_plan_walk_finds_a_nested_sequential_scan() -> None:
    plan: dict[str, Any] = {
        "Node Type": "Limit",
        "Plans": [
            {"Node Type": "Index Scan", "Relation Name": "sessions"},
            {
                "Node Type": "Hash",
                "Plans": [{"Node Type": "Seq Scan", "Relation Name": "sessions"}],
            },
        ],
    }
    assert len(list(seq_scans_of_sessions(plan))) == 1
    assert not list(seq_scans_of_sessions(plan["Plans"][0]))


def rows_read_by_clinician(plan: dict[str, Any]) -> int:
    """The sessions rows that the plan's scans narrowed by clinician read, kept or filtered
    out, over all their loops (an EXPLAIN ANALYZE plan)."""
    read = 0
    conditions = " ".join(
        str(plan.get(key, "")) for key in ("Index Cond", "Recheck Cond", "Filter")
    )
    if plan.get("Relation Name") == "sessions" and "clinician_id" in conditions:
        per_loop = sum(
            plan.get(key, 0)
            for key in ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck")
        )
        read += per_loop * plan.get("Actual Loops", 1)
    for child in plan.get("Plans", ()):
        read += rows_read_by_clinician(child)
    return read


def per_row_client_scans(
    plan: dict[str, Any], *, in_subplan: bool = False
) -> Iterator[dict[str, Any]]:
    """Every scan of `sessions` inside a subplan (run once per outer row) that reads a client's
    sessions by client."""
    in_subplan = in_subplan or "Subplan Name" in plan
    by_client = "client_id" in str(plan.get("Index Cond", ""))
    if in_subplan and plan.get("Relation Name") == "sessions" and by_client:
        yield plan
    for child in plan.get("Plans", ()):
        yield from per_row_client_scans(child, in_subplan=in_subplan)


def per_row_history_reads(plan: dict[str, Any]) -> Iterator[str]:
    """The index conditions of the per-row client scans (`per_row_client_scans`) that read a
    client's sessions of all time: with no bound on starts_at."""
    for scan in per_row_client_scans(plan):
        if "starts_at" not in scan["Index Cond"]:
            yield scan["Index Cond"]


def test_the_subplan_walk_finds_a_history_read_per_row() -> None:
    unbounded = "((clinic_id = s.clinic_id) AND (client_id = s.client_id))"
    bounded = "((clinic_id = s.clinic_id) AND (client_id = s.client_id) AND (starts_at >= x))"
    plan = {
        "Relation Name": "sessions",
        "Index Cond": "((clinic_id = $1) AND (client_id = ANY ($2)))",  # once: not per row
        "Plans": [
            {"Subplan Name": "SubPlan 1", "Relation Name": "sessions", "Index Cond": bounded},
            {
                "Subplan Name": "SubPlan 2",
                "Node Type": "Limit",
                "Plans": [{"Relation Name": "sessions", "Index Cond": unbounded}],
            },
        ],
    }
    assert list(per_row_history_reads(plan)) == [unbounded]


def test_the_clinician_count_adds_kept_and_filtered_rows_of_every_loop() -> None:
    plan = {
        "Node Type": "Limit",
        "Plans": [
            {
                "Node Type": "Index Scan",
                "Relation Name": "sessions",
                "Index Cond": "((clinic_id = $1) AND (clinician_id = $2))",
                "Actual Rows": 15,
                "Rows Removed by Filter": 6060,
                "Actual Loops": 1,
            },
            {
                "Node Type": "Index Scan",
                "Relation Name": "sessions",
                "Index Cond": "((clinic_id = s.clinic_id) AND (client_id = s.client_id))",
                "Actual Rows": 1,
                "Rows Removed by Filter": 10,
                "Actual Loops": 100,
            },
        ],
    }
    assert rows_read_by_clinician(plan) == 6075


def test_the_client_scan_walk_finds_each_scan_in_a_subplan() -> None:
    by_client = "((clinic_id = s.clinic_id) AND (client_id = s.client_id) AND (starts_at >= x))"
    plan = {
        "Relation Name": "sessions",
        "Node Type": "Index Scan",
        "Index Cond": "((clinic_id = $1) AND (client_id = ANY ($2)))",  # once: not per row
        "Plans": [
            {
                "Subplan Name": "SubPlan 1",
                "Node Type": "Limit",
                "Plans": [{"Node Type": "Index Scan", "Relation Name": "sessions",
                           "Index Cond": by_client}],
            },
            {"Subplan Name": "SubPlan 2", "Node Type": "Index Only Scan",
             "Relation Name": "sessions", "Index Cond": by_client},
            {"Subplan Name": "SubPlan 3", "Node Type": "Index Scan", "Relation Name": "sessions",
             "Index Cond": "(id = s.ketamine_session_id)"},
        ],
    }  # fmt: skip
    assert [scan["Node Type"] for scan in per_row_client_scans(plan)] == [
        "Index Scan",
        "Index Only Scan",
    ]


def booking_checks(plan: dict[str, Any]) -> int:
    """How often the plan checked a dose for an integration booked in its window (a per-row
    read of the client's sessions from the dose's T(K) on), over all loops (EXPLAIN ANALYZE)."""
    return sum(
        scan.get("Actual Loops", 0)
        for scan in per_row_client_scans(plan)
        if "starts_at >= COALESCE" in scan["Index Cond"]
    )


def test_the_booking_check_count_adds_the_loops_of_each_check() -> None:
    check = (
        "((clinic_id = s.clinic_id) AND (client_id = s.client_id)"
        " AND (starts_at >= COALESCE(s.ended_at, s.ends_at)))"
    )
    anchor = (
        "((clinic_id = i.clinic_id) AND (client_id = i.client_id) AND (starts_at <= i.starts_at))"
    )
    plan = {
        "Node Type": "Limit",
        "Plans": [
            {"Subplan Name": "SubPlan 1", "Relation Name": "sessions", "Index Cond": check,
             "Actual Loops": 245,
             "Plans": [{"Subplan Name": "SubPlan 2", "Relation Name": "sessions",
                        "Index Cond": anchor, "Actual Loops": 90}]},
            {"Node Type": "Index Scan", "Relation Name": "sessions",
             "Plans": [{"Subplan Name": "SubPlan 3", "Relation Name": "sessions",
                        "Index Cond": check, "Actual Loops": 46}]},
        ],
    }  # fmt: skip
    assert booking_checks(plan) == 291


def client_lookups(plan: dict[str, Any]) -> Iterator[tuple[int, int]]:
    """(lookups, rows considered) for every scan of `sessions` that looks up each row's client
    in a subplan (an EXPLAIN ANALYZE plan): how often the subplan ran, against the rows the
    scan read, kept or filtered out, over all its loops."""
    if plan.get("Relation Name") == "sessions":
        lookups = sum(
            child.get("Actual Loops", 0)
            for child in plan.get("Plans", ())
            if "Subplan Name" in child and child.get("Relation Name") == "clients"
        )
        if lookups:
            per_loop = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
            yield lookups, per_loop * plan.get("Actual Loops", 1)
    for child in plan.get("Plans", ()):
        yield from client_lookups(child)


def test_the_lookup_count_compares_subplan_runs_with_rows_considered() -> None:
    plan = {
        "Node Type": "Bitmap Heap Scan",
        "Relation Name": "sessions",
        "Actual Rows": 174,
        "Rows Removed by Filter": 705,
        "Actual Loops": 1,
        "Plans": [
            {"Node Type": "Bitmap Index Scan", "Index Name": "ix", "Actual Loops": 1},
            {"Subplan Name": "SubPlan 4", "Relation Name": "clients", "Actual Loops": 174},
            {"Subplan Name": "SubPlan 3", "Relation Name": "sessions", "Actual Loops": 879},
        ],
    }
    assert list(client_lookups(plan)) == [(174, 879)]


def test_captured_values_become_literals_execute_casts() -> None:
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert literal(None) == "NULL"
    assert literal(50) == "'50'"
    assert literal("it's") == "'it''s'"
    assert literal(at) == "'2026-03-02T15:00:00+00:00'"
    assert literal([1, 2]) == "'{1,2}'"


WORKLISTS = [
    "/api/v1/clients/{c.client_ids[0]}/journey",
    "/api/v1/worklists/integration",
    "/api/v1/worklists/integration?clinician_id={c.clinician_ids[0]}",
]
FILTERS = [f"/api/v1/ketamine-sessions?integration_status={s}" for s in INTEGRATION_STATUSES] + [
    f"/api/v1/integration-sessions?window_status={s}" for s in WINDOW_STATUSES
]


@pytest.mark.parametrize("path", WORKLISTS + FILTERS)
async def test_no_sequential_scan_of_sessions(scale: Scale, path: str) -> None:
    for text, plan in await plans_of(scale, path):
        scans = list(seq_scans_of_sessions(plan))
        assert not scans, f"{path}: a sequential scan of sessions in the plan of\n{text}"


async def test_a_clinicians_worklist_does_not_read_the_clinicians_history(scale: Scale) -> None:
    # A clinician's sessions span the five generated years; the worklist needs only their doses
    # whose window may still be open and their scheduled integrations.
    clinic = scale.made.clinics[0]
    clinician = clinic.clinician_ids[0]
    connection = await asyncpg.connect(driver_url(scale.url))
    try:
        history = await connection.fetchval(
            "SELECT count(*) FROM sessions WHERE clinician_id = $1", clinician
        )
    finally:
        await connection.close()
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
    clinic = scale.made.clinics[0]
    connection = await asyncpg.connect(driver_url(scale.url))
    try:
        may_be_open = await connection.fetchval(
            "SELECT count(*) FROM sessions s JOIN clinics c ON c.id = s.clinic_id"
            " WHERE s.clinic_id = $1 AND s.kind = 'ketamine'"
            " AND s.status IN ('scheduled', 'completed') AND coalesce(s.ended_at, s.ends_at)"
            " >= now() - greatest(c.window_closes_iv_s, c.window_closes_im_s,"
            " c.window_closes_intranasal_s, c.window_closes_sublingual_s,"
            " c.window_closes_oral_s) * interval '1 second'",
            clinic.clinic_id,
        )
    finally:
        await connection.close()
    unbooked_text, unbooked = (await plans_of(scale, WORKLISTS[1], analyze=True))[0]
    checks = booking_checks(unbooked)
    assert 0 < checks <= may_be_open // 2, (
        f"{checks} booking checks for {may_be_open} doses whose window may be open:\n"
        f"{unbooked_text}"
    )


@pytest.mark.parametrize("path", WORKLISTS[1:])
async def test_a_worklist_asks_after_archived_clients_of_their_index_alone(
    scale: Scale, path: str
) -> None:
    # Each dose or integration a page keeps is asked whether its client is archived: a probe of
    # `ix_clients_archived`, which holds only those, from the index alone (half the pages of
    # reading the flag by primary key and row; docs/performance.md, sixteenth pass).
    asked = 0
    for text, plan in await plans_of(scale, path):
        for scan in scans_of(plan, "clients"):
            asked += 1
            where = (scan["Node Type"], scan.get("Index Name"))
            assert where == ("Index Only Scan", "ix_clients_archived"), f"{where} in\n{text}"
    assert asked, f"{path}: no statement asked after archived clients"
