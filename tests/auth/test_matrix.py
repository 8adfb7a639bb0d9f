"""The authorization matrix: every route in the OpenAPI document, for every kind of caller.

A route missing from SPECS (tests/auth/matrix_routes.py) fails the test, so a new route cannot
escape the matrix.
"""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.auth.matrix_routes import ALL, FEED, PUBLIC, SIGNED, SPECS
from tests.auth.matrix_world import Call, World
from tests.support.factories import T0, Clinic, bootstrap


def _operations(app: FastAPI) -> dict[str, tuple[str, str]]:
    return {
        operation["operationId"]: (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    }


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    operations = _operations(app)
    assert set(operations) == set(SPECS), set(operations) ^ set(SPECS)


@pytest.fixture
async def world(clinic: Clinic, app: FastAPI) -> World:
    clinician_id, clinician = await clinic.staff("clinician")
    _, scheduler = await clinic.staff("scheduler")
    client = await clinic.prepared_client(prep_at=T0 - timedelta(days=60))
    headers = {"admin": clinic.headers, "clinician": clinician, "scheduler": scheduler}
    return World(clinic, headers, app, clinician_id, client["id"])


@pytest.mark.parametrize("operation_id", sorted(SPECS))
async def test_route_answers_each_caller_as_it_must(
    operation_id: str, world: World, app: FastAPI, http: httpx.AsyncClient
) -> None:
    allowed, make = SPECS[operation_id]
    method, template = _operations(app)[operation_id]
    other = await bootstrap(app, http, world.clinic.clock)

    async def send(call: Call, headers: dict[str, str]) -> httpx.Response:
        return await http.request(call.method, call.path, json=call.json, headers=headers)

    call = await make(world)
    assert call.method == method
    if allowed == PUBLIC:
        assert (await send(call, {})).status_code == 200
        return
    if allowed == SIGNED:  # a bearer token of any role is no substitute for the signature
        for headers in [{}, *world.headers.values()]:
            assert (await send(call, headers)).status_code == 401
        return
    if allowed == FEED:  # a bearer token of any role is no substitute for the feed token
        for headers in [{}, *world.headers.values()]:
            assert (await send(call, headers)).status_code == 404
        return
    assert (await send(call, {})).status_code == 401, "no token"
    for role in sorted(ALL - allowed):
        response = await send(await make(world), world.headers[role])
        assert response.status_code == 403, (role, response.text)
    foreign = await send(await make(world), other.headers)
    if "{" in template:
        assert foreign.status_code == 404, foreign.text
    else:
        # Their own (empty) view, or a 422 for naming our resources in a body; never our data.
        assert foreign.status_code < 300 or foreign.status_code == 422, foreign.text
        assert world.client_id not in foreign.text
    for role in sorted(allowed):
        response = await send(await make(world), world.headers[role])
        assert response.status_code < 300, (role, response.status_code, response.text)
