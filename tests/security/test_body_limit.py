"""Request bodies over the limit are refused with 413 before anything is written (API4)."""

import json
from collections.abc import AsyncIterator

from fastapi import FastAPI

from tests.support.apps import MakeApp, assert_problem, client_of
from tests.support.factories import FakeClock, bootstrap

MIB = 1_048_576
CHUNK = 64 * 1024
JSON = {"Content-Type": "application/json"}
CLIENT = {"first_name": "Maya", "last_name": "Okafor", "date_of_birth": "1988-04-17"}


def padded_client(size: int) -> bytes:
    """A valid client-create body, padded with JSON whitespace to exactly `size` bytes."""
    return json.dumps(CLIENT).encode().ljust(size)


class Chunks:
    """A request body streamed without Content-Length; counts what the server pulled."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), CHUNK):
            self.sent += 1
            yield self.body[start : start + CHUNK]


async def test_a_declared_oversized_body_is_413_unread_and_writes_nothing(
    app: FastAPI, clock: FakeClock
) -> None:
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        body = Chunks(padded_client(MIB + 1))
        response = await http.post(
            "/api/v1/clients",
            content=body,
            headers={**clinic.headers, **JSON, "Content-Length": str(MIB + 1)},
        )
        problem = assert_problem(response, 413, "payload_too_large")
        assert str(MIB) in problem["detail"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert body.sent == 0  # refused on the header alone: not one byte was read
        assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == []


async def test_a_chunked_oversized_body_is_413_and_reading_stops_at_the_limit(
    app: FastAPI, clock: FakeClock
) -> None:
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        body = Chunks(padded_client(8 * MIB))
        response = await http.post(
            "/api/v1/clients",
            content=body,
            headers={**clinic.headers, **JSON},
        )
        assert "content-length" not in response.request.headers
        assert_problem(response, 413, "payload_too_large")
        assert body.sent <= MIB // CHUNK + 1  # 8 MiB offered, just past 1 MiB taken
        assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == []


async def test_a_body_of_exactly_the_limit_is_accepted_both_ways(
    app: FastAPI, clock: FakeClock
) -> None:
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        await clinic.ok("POST", "/api/v1/clients", 201, content=padded_client(MIB), headers=JSON)
        await clinic.ok(
            "POST", "/api/v1/clients", 201, content=Chunks(padded_client(MIB)), headers=JSON
        )
        assert len((await clinic.ok("GET", "/api/v1/clients"))["items"]) == 2


async def test_the_limit_comes_from_settings(make_app: MakeApp, clock: FakeClock) -> None:
    app = make_app(max_body_bytes=200)
    async with client_of(app) as http:
        clinic = await bootstrap(app, http, clock)
        await clinic.ok("POST", "/api/v1/clients", 201, content=padded_client(200), headers=JSON)
        response = await clinic.post("/api/v1/clients", content=padded_client(201), headers=JSON)
        assert_problem(response, 413, "payload_too_large")
        response = await clinic.post(
            "/api/v1/clients", content=Chunks(padded_client(201)), headers=JSON
        )
        assert_problem(response, 413, "payload_too_large")
        assert len((await clinic.ok("GET", "/api/v1/clients"))["items"]) == 1
