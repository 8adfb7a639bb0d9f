"""The number of SQL statements a list or journey request issues does not grow with its size."""

from datetime import timedelta

from app.screenings.schemas import CONTRAINDICATION_CODES
from tests.support.factories import T0, Clinic
from tests.support.statements import StatementCounter


async def _statements(counter: StatementCounter, clinic: Clinic, url: str, **params: object) -> int:
    before = counter.count
    await clinic.ok("GET", url, params=params)
    return counter.count - before


async def _client_with_series(clinic: Clinic, doses: int) -> str:
    client = await clinic.prepared_client()
    for n in range(doses):
        start = T0 + timedelta(days=3 * n + 1)
        await clinic.dose(client["id"], start, route="iv" if n % 2 else "sublingual")
        await clinic.integration(client["id"], start + timedelta(hours=26))
    return str(client["id"])


async def test_lists_issue_the_same_statements_for_any_page_size(
    clinic: Clinic, sql_statements: StatementCounter
) -> None:
    for _ in range(3):
        await _client_with_series(clinic, 3)
    for url in (
        "/api/v1/ketamine-sessions",
        "/api/v1/integration-sessions",
        "/api/v1/preparation-sessions",
        "/api/v1/clients",
    ):
        # Two, not one: a page of several items writes one audit row plus one statement for its
        # further resources, whatever their number (issue 17); a page of one item has none.
        small = await _statements(sql_statements, clinic, url, limit=2)
        large = await _statements(sql_statements, clinic, url, limit=200)
        assert small == large, url
    filtered_small = await _statements(
        sql_statements, clinic, "/api/v1/integration-sessions", limit=2, window_status="in_window"
    )
    filtered_large = await _statements(
        sql_statements, clinic, "/api/v1/integration-sessions", limit=200, window_status="in_window"
    )
    assert filtered_small == filtered_large


async def test_journey_statements_do_not_grow_with_its_length(
    clinic: Clinic, sql_statements: StatementCounter
) -> None:
    short = await _client_with_series(clinic, 1)
    long = await _client_with_series(clinic, 8)
    short_count = await _statements(sql_statements, clinic, f"/api/v1/clients/{short}/journey")
    long_count = await _statements(sql_statements, clinic, f"/api/v1/clients/{long}/journey")
    assert short_count == long_count
    # Authenticate, client with stage, sessions, open safety reviews, the screenings and the
    # consents the dosing gate's alerts read for scheduled doses, audit insert (+ SQLite's
    # explicit BEGINs).
    assert short_count <= 10
    worklist = await _statements(sql_statements, clinic, "/api/v1/worklists/integration")
    assert worklist <= 9


async def test_medical_clearance_on_client_reads_is_one_statement_for_the_page(
    clinic: Clinic, sql_statements: StatementCounter
) -> None:
    screening = {
        "contraindications": dict.fromkeys(CONTRAINDICATION_CODES, False),
        "decision": "cleared",
    }
    for n in range(4):
        client = await clinic.client(last_name=f"Screened {n}")
        for days in range(n + 1):
            at = (T0 - timedelta(days=days)).isoformat()
            url = f"/api/v1/clients/{client['id']}/screenings"
            await clinic.ok("POST", url, 201, json={**screening, "screened_at": at})
    await clinic.client(last_name="Unscreened")
    _, scheduler = await clinic.staff("scheduler")
    await clinic.ok("GET", "/api/v1/clinic", headers=scheduler)  # records the key's first use
    small = await _statements(sql_statements, clinic, "/api/v1/clients", limit=1)
    large = await _statements(sql_statements, clinic, "/api/v1/clients", limit=200)
    assert small == large
    before = sql_statements.count
    await clinic.ok("GET", "/api/v1/clients", params={"limit": 200}, headers=scheduler)
    # The scheduler's page reads no screening at all: one statement fewer.
    assert sql_statements.count - before == large - 1
