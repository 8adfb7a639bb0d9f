"""Schemathesis against the app's own OpenAPI document, as admin and as scheduler.

Every operation gets generated requests, valid and invalid, some naming seeded objects
(tests/contract/seed.py, real_ids.py). Every response must be no 5xx, carry a status code the
operation documents, and match the documented content type and schema.

No operation is left out. `POST /api/v1/inbound/{id}` cannot be signed by a generator, so only
its refusals (401, 404, 410, 422) are reached: it is kept for the no-5xx and schema checks on
random bodies. The stateful phase is off: the document declares no links, and its time is
better spent on more examples per operation.

The app under test is a second instance on the suite's database: Schemathesis drives it from
an event loop thread of its own, which the suite's app (bound to pytest's loop) cannot share.
The schema is loaded at import, not through `schemathesis.pytest.from_fixture`, whose lazy
loader does not run under pytest 9.2.
"""

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from pydantic import SecretStr
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi

from app.config import Settings
from app.main import create_app
from tests.contract.real_ids import SeededHooks
from tests.contract.seed import SeededClinic, seed_clinic
from tests.support.factories import FakeClock

ROLES = ["admin", "scheduler"]
# Sized for CI's budget; raise them, or change the seed, for a deeper hunt. The coverage phase
# (boundary and missing values of every parameter, ~50 requests an operation) is off for the
# same reason: KAP_CONTRACT_COVERAGE=1 turns it on.
MAX_EXAMPLES = int(os.environ.get("KAP_CONTRACT_EXAMPLES", "6"))
COVERAGE_PHASE = os.environ.get("KAP_CONTRACT_COVERAGE", "") == "1"
SEED = int(os.environ.get("KAP_CONTRACT_SEED", "20260302"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _openapi() -> dict[str, Any]:
    """The document the app serves; building the app does no I/O."""
    settings = Settings(database_url="sqlite+aiosqlite://", secret_key=SecretStr("unused"))
    return create_app(settings).openapi()


SCHEMA = schemathesis.openapi.from_dict(
    _openapi(),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Generation time depends on how busy the machine is, not on the app.
            "suppress-health-check": ["too_slow"],
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": COVERAGE_PHASE}},
        }
    ),
)
HOOKS = SeededHooks()
HOOKS.install(SCHEMA)


@pytest.fixture(scope="module", params=ROLES)
async def seeded(request: pytest.FixtureRequest, app: FastAPI, clock: FakeClock) -> SeededClinic:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as http:
        return await seed_clinic(app, http, clock, request.param)


@pytest.fixture(scope="module")
def app_under_test(database_url: str) -> Iterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr("test-secret-key"),
        webhook_allowed_hosts=["127.0.0.1", "localhost"],
        rate_limit_per_minute=0,  # the rate limiter has tests of its own (tests/security)
    )
    yield create_app(settings, clock=FakeClock())
    # Its lifespan runs in Schemathesis' loop thread; ending it there closes the pool there.
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def authorization(seeded: SeededClinic) -> dict[str, str]:
    """The role's token; from now on generated requests may name its clinic's objects."""
    HOOKS.seeded = seeded
    return {"Authorization": f"Bearer {seeded.token}"}


@SCHEMA.parametrize()
def test_every_response_is_documented_and_no_5xx(
    case: schemathesis.Case[Any], app_under_test: FastAPI, authorization: dict[str, str]
) -> None:
    case.call_and_validate(app=app_under_test, headers=authorization, checks=CHECKS)
