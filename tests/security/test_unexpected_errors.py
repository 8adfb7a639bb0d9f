"""An unexpected failure is a generic 500 problem: no exception text, traceback or SQL (API8)."""

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, ProgrammingError

from tests.support.apps import MakeApp, assert_problem, client_of

ORIGIN = "https://app.example.org"
PHI = "Okafor"
FAILURES = {
    "plain": RuntimeError("cannot dose client Okafor: SELECT dose_mg FROM ketamine_sessions"),
    "sql": ProgrammingError(
        "SELECT first_name, notes FROM clients WHERE last_name = %(last_name)s",
        {"last_name": PHI},
        Exception('syntax error at or near "WHERE"'),
    ),
    "constraint": IntegrityError(
        "INSERT INTO clients (first_name, last_name) VALUES (?, ?)",
        ("Maya", PHI),
        Exception("UNIQUE constraint failed: clients.email"),
    ),
}
# Case-sensitive on purpose: these are how SQL and Python tracebacks spell themselves.
LEAKS = ("SELECT", "INSERT", "FROM", "WHERE", "VALUES", "Traceback", 'File "', "line ", "clients")


def failing_app(make_app: MakeApp, failure: Exception) -> FastAPI:
    app = make_app(cors_origins=ORIGIN)

    @app.get("/api/v1/test-only/fail")
    async def fail_on_purpose() -> None:
        """A route that fails the way a bug would."""
        raise failure

    return app


@pytest.mark.parametrize("kind", FAILURES)
async def test_an_unexpected_exception_is_a_generic_500_problem(
    make_app: MakeApp, kind: str
) -> None:
    failure = FAILURES[kind]
    app = failing_app(make_app, failure)
    async with client_of(app, raise_app_exceptions=False) as http:
        response = await http.get("/api/v1/test-only/fail", headers={"Origin": ORIGIN})
    body = assert_problem(response, 500, "internal_error")
    assert set(body) == {"type", "title", "status", "detail", "code"}
    for leak in (*LEAKS, type(failure).__name__, "syntax error", "UNIQUE"):
        assert leak not in response.text, leak
    assert PHI.lower() not in response.text.lower()
    # Answered inside the middleware stack: secured, and readable by the allowed browser app.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_the_failure_is_logged_for_operators(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = failing_app(make_app, FAILURES["plain"])
    async with client_of(app) as http:
        response = await http.get("/api/v1/test-only/fail")
    assert response.status_code == 500
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is FAILURES["plain"]]
    assert len(logged) == 1  # once, with its traceback, and only in the log
