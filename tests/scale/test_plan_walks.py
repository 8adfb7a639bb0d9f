"""The plan walks (tests/scale/plan_walks.py) and the generic plans' literals
(tests/scale/explained.py), on synthetic plans and values: each must find what it is for."""

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.scale.explained import literal
from tests.scale.plan_walks import (
    booking_checks,
    client_lookups,
    per_row_client_scans,
    per_row_history_reads,
    rows_read,
    rows_read_by_clinician,
    seq_scans_of_sessions,
)


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


def test_the_row_count_adds_kept_and_filtered_rows_of_every_loop() -> None:
    scan = {"Actual Rows": 2, "Rows Removed by Filter": 5, "Actual Loops": 3}
    assert rows_read(scan) == 21
    assert rows_read({"Actual Rows": 4}) == 4


def test_captured_values_become_literals_execute_casts() -> None:
    # Read back by PostgreSQL in tests/scale/test_query_plans.py; here, their text.
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert literal(None) == "NULL"
    assert literal(50) == "'50'"
    assert literal("it's") == "'it''s'"
    assert literal(at) == "'2026-03-02T15:00:00+00:00'"
    assert literal([1, 2]) == '\'{"1","2"}\''
    assert literal(['x"y', None]) == '\'{"x\\"y",NULL}\''
    with pytest.raises(AssertionError, match="naive"):
        literal(datetime(2026, 3, 2, 15, 0))
