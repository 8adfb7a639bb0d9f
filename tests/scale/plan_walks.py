"""Walks over PostgreSQL's JSON plans that the scale tests read (tests/scale/test_query_plans.py);
each is checked on a synthetic plan in tests/scale/test_plan_walks.py."""

from collections.abc import Iterator
from typing import Any


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


def booking_checks(plan: dict[str, Any]) -> int:
    """How often the plan checked a dose for an integration booked in its window (a per-row
    read of the client's sessions from the dose's T(K) on), over all loops (EXPLAIN ANALYZE)."""
    return sum(
        scan.get("Actual Loops", 0)
        for scan in per_row_client_scans(plan)
        if "starts_at >= COALESCE" in scan["Index Cond"]
    )


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


def rows_read(scan: dict[str, Any]) -> int:
    """Rows a scan read, kept or filtered out, over all its loops (an EXPLAIN ANALYZE plan)."""
    per_loop = scan.get("Actual Rows", 0) + scan.get("Rows Removed by Filter", 0)
    return int(per_loop * scan.get("Actual Loops", 1))
