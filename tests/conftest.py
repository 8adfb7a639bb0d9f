"""Suite-wide fixtures: the app on each database, a settable clock, and one clinic per test;
and the layer every test belongs to (tests/support/layers.py).

Every test that uses `app` runs on each backend KAP_TEST_BACKENDS names: SQLite and PostgreSQL
unless it says otherwise. Each test gets a fresh clinic, so tests are isolated by tenant while the
app commits for real, exactly as in production. PostgreSQL is mandatory when CI is set; elsewhere
its half of the suite is skipped, with the reason.
"""

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import event

from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from tests.support import databases, examples, layers
from tests.support.factories import Clinic, FakeClock, bootstrap
from tests.support.statements import StatementCounter

# make_app and wall: apps with settings of a test's own, and the rate limiter's clock;
# clinic_db: a clinic on a real AsyncSession, for tests of services without HTTP.
pytest_plugins = ["tests.support.apps", "tests.support.services"]
BACKENDS = databases.BACKENDS
examples.load_profile()  # HYPOTHESIS_PROFILE=fast in `make test-fast`


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the markers given here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    problems = layers.assign(items)
    if problems:
        raise pytest.UsageError(
            "every test needs exactly one layer marker:\n  " + "\n  ".join(problems)
        )


@pytest.fixture(autouse=True)
def _stay_in_layer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    layers.confine(layers.layer_of(request.node), monkeypatch)


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kap-tests-") as folder:
        yield Path(folder)


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_root: Path) -> AsyncIterator[str]:
    """A migrated scratch database on one backend, removed at the end of the session."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_root / 'suite.db'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    async with databases.scratch_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _reset_clock(clock: FakeClock) -> None:
    clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
async def app(database_url: str, clock: FakeClock) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr("test-secret-key"),
        webhook_allowed_hosts=["127.0.0.1", "localhost"],
        rate_limit_per_minute=0,  # the rate limiter has tests of its own (tests/security)
        # So is the bound on unverified denials' audit rows (tests/audit/test_failed_requests.py):
        # here every test's anonymous 401s come from one address, and some tests look for the row.
        audit_unverified_denials_per_address=1_000_000,
        audit_unverified_denials_per_minute=1_000_000,
    )
    application = create_app(settings, clock=clock)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as client:
        yield client


@pytest.fixture
async def clinic(app: FastAPI, http: httpx.AsyncClient, clock: FakeClock) -> Clinic:
    """A fresh clinic with an admin key, seen through the HTTP API."""
    return await bootstrap(app, http, clock)


@pytest.fixture
def backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def sql_statements(app: FastAPI) -> Iterator[StatementCounter]:
    """Counts the SQL statements the app sends while the test runs."""
    counter = StatementCounter()

    def count(*_: object) -> None:
        counter.count += 1

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    yield counter
    event.remove(engine, "before_cursor_execute", count)
