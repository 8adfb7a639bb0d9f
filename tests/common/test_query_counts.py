"""The number of SQL statements a list or journey request issues does not grow with its size,
and neither do the Python-level costs of its read path: ORM entities loaded and window
evaluations. These counts are the CPU-per-request guard CI runs without timing anything
(docs/performance.md): a change that makes the path heavier fails here, not in a benchmark."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import greenlet  # type: ignore[import-untyped]
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import event

from app.config import Settings
from app.db import Base
from app.journeys.router import router as journeys_router
from app.main import create_app
from app.screenings.schemas import CONTRAINDICATION_CODES
from app.windows import rules
from app.windows import service as window_service
from tests.support.factories import T0, Clinic
from tests.support.statements import StatementCounter, WorkCounter


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkCounter]:
    """Counts ORM entities loaded (SQLAlchemy's own load event) and integration-window
    evaluations (the real rule, counted on the way through) while the test runs."""
    counter = WorkCounter()

    def loaded(*_: object) -> None:
        counter.entities += 1

    real = rules.evaluate_integration

    def evaluate_integration(*args: Any, **kwargs: Any) -> rules.IntegrationWindow:
        counter.window_evaluations += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(rules, "evaluate_integration", evaluate_integration)
    monkeypatch.setattr(window_service, "evaluate_integration", evaluate_integration)
    event.listen(Base, "load", loaded, propagate=True)
    yield counter
    event.remove(Base, "load", loaded)


async def _work(counter: WorkCounter, clinic: Clinic, url: str) -> tuple[int, int]:
    """(entities loaded, window evaluations) for one GET."""
    entities, evaluations = counter.entities, counter.window_evaluations
    await clinic.ok("GET", url)
    return counter.entities - entities, counter.window_evaluations - evaluations


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
    # Authenticate, client, sessions, open safety reviews, the screenings and the
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


async def test_a_journey_evaluates_each_integration_once_and_loads_no_entity_per_session(
    clinic: Clinic, work: WorkCounter
) -> None:
    short = await _client_with_series(clinic, 1)  # preparation, 1 dose, 1 integration
    long = await _client_with_series(clinic, 8)  # preparation, 8 doses, 8 integrations
    short_entities, short_evaluations = await _work(
        work, clinic, f"/api/v1/clients/{short}/journey"
    )
    long_entities, long_evaluations = await _work(work, clinic, f"/api/v1/clients/{long}/journey")
    # Each integration once, not once per dose as well (that was 8 + 8 * 8 = 72).
    assert (short_evaluations, long_evaluations) == (1, 8)
    # Nothing grows with the journey: its sessions are read as rows, not entities.
    assert short_entities == long_entities == FIXED_ENTITIES


FIXED_ENTITIES = 0
"""ORM entities a journey or a worklist loads: none. The key, its staff member and clinic are
one row (app/auth/repository.py); sessions, the client, its screenings, consents and open safety
reviews are read as rows too (app.db_direct.read_rows)."""


async def test_the_worklist_evaluates_only_integrations_that_may_anchor_its_doses_once(
    clinic: Clinic, work: WorkCounter
) -> None:
    client = await clinic.prepared_client()
    for n in range(5):  # five doses ahead, integration booked for the first two only
        start = T0 + timedelta(days=3 * n + 1)
        await clinic.dose(client["id"], start)
        if n < 2:
            await clinic.integration(client["id"], start + timedelta(hours=26))
    late = await clinic.prepared_client()
    await clinic.dose(late["id"], T0 + timedelta(days=1))
    await clinic.integration(late["id"], T0 + timedelta(days=20))  # after its window
    entities, evaluations = await _work(work, clinic, "/api/v1/worklists/integration")
    body = await clinic.ok("GET", "/api/v1/worklists/integration")
    assert (len(body["unbooked"]), len(body["outside_window"])) == (4, 1)
    # The late client's integration once, for its dose and for itself; the first client's two
    # integrations start before its unbooked doses, so cannot anchor them, and are not
    # evaluated (all three once each before, and 3 * 2 + 2 = 8 before that).
    assert evaluations == 1
    # Key, staff and clinic: no entity per session shown, per client or per fact.
    assert entities == FIXED_ENTITIES


class _GreenletEntries:
    """Counts the greenlets SQLAlchemy's asyncio layer runs sync code in (`greenlet_spawn`):
    each is a greenlet made, switched into and out of, and freed with its frame stack."""

    def __init__(self) -> None:
        self.entered: list[Any] = []  # held, so that no id is reused

    def __call__(self, event: str, args: tuple[Any, Any]) -> None:
        target = args[1]  # (origin, target); a spawned greenlet has the loop's as its parent
        entering = event == "switch" and target.parent is not None
        if entering and not any(seen is target for seen in self.entered):
            self.entered.append(target)


async def test_an_authenticated_read_enters_sqlalchemys_greenlet_to_begin_only(
    clinic: Clinic, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite's driver runs every statement in SQLAlchemy's greenlet")
    client = await _client_with_series(clinic, 2)
    entries = _GreenletEntries()
    for url in (f"/api/v1/clients/{client}/journey", "/api/v1/worklists/integration"):
        await clinic.ok("GET", url)  # the pool's connection is made and pinged before
        previous = greenlet.settrace(entries)
        try:
            await clinic.ok("GET", url)
        finally:
            greenlet.settrace(previous)
        # The transaction's begin (the pool's checkout) only: the statements and the COMMIT
        # go straight to the driver, and the committed session closes without one (app/db.py).
        assert len(entries.entered) == 1, url
        entries.entered.clear()


def _dependencies(dependant: Dependant) -> int:
    """The dependencies FastAPI solves for `dependant`, each once per request."""
    return sum(1 + _dependencies(sub) for sub in dependant.dependencies)


def test_an_authenticated_read_solves_few_dependencies() -> None:
    """FastAPI resolves each declared dependency on every request, at a cost that was a fifth
    of an authenticated, audited request doing nothing else (docs/performance.md, sixth pass):
    authentication reads the session and the instant itself, and the app-wide checks are one."""
    journey = next(r for r in journeys_router.routes if isinstance(r, APIRoute))
    # authenticate (itself the bearer scheme of the OpenAPI document), the session, the instant
    assert _dependencies(journey.dependant) == 3
    assert len(create_app(Settings()).router.dependencies) == 1
