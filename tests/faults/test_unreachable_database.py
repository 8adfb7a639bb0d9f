"""A PostgreSQL URL where nothing listens: the connection is refused before any query, which the
driver reports as a bare OSError. The API still answers a clean 503, in-process and fast; the
real outage, a server stopped under load, is in test_postgres_restart.py."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.support.servers import free_port

pytestmark = pytest.mark.api  # in-process: nothing listens


@pytest.fixture
async def app() -> AsyncIterator[FastAPI]:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/kap"
    settings = Settings(database_url=nowhere, secret_key=SecretStr("unreachable-tests"))
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/readyz"), ("GET", "/api/v1/clients"), ("POST", "/api/v1/clients")],
)
async def test_a_refused_connection_is_a_503_database_unavailable(
    app: FastAPI, method: str, path: str
) -> None:
    person = {"first_name": "No", "last_name": "Where", "date_of_birth": "1970-01-01"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kap.test"
    ) as http:
        response = await http.request(
            method,
            path,
            json=person if method == "POST" else None,
            headers={"Authorization": "Bearer kap_000000000000_unreachable"},
        )
        assert (await http.get("/healthz")).status_code == 200
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
