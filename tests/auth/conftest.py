"""Fixtures of the OIDC tests: the identity provider's keys and JWKS server, and the app with
OIDC on over the suite's database (so `clinic` can set up staff)."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from app.main import create_app
from tests.auth.oidc_idp import JwksServer, Keys, Signer, new_rsa, oidc_settings
from tests.support.factories import FakeClock


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        rsa=Signer("rsa-1", "RS256", new_rsa()),
        ec=Signer("ec-1", "ES256", ec.generate_private_key(ec.SECP256R1())),
        rotated=Signer("rsa-2", "RS256", new_rsa()),
        impostor=Signer("rsa-1", "RS256", new_rsa()),
    )


@pytest.fixture(scope="session")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join()


@pytest.fixture
def idp(jwks_server: JwksServer, keys: Keys) -> JwksServer:
    jwks_server.publish(keys.rsa, keys.ec)
    jwks_server.status = 200
    jwks_server.fetches = 0
    return jwks_server


@pytest.fixture
async def sso_app(database_url: str, clock: FakeClock, idp: JwksServer) -> AsyncIterator[FastAPI]:
    """The app with OIDC on, over the same database as `app`."""
    application = create_app(oidc_settings(database_url, idp.url), clock=clock)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def sso(sso_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sso_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as client:
        yield client
