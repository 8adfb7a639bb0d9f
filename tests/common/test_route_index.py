"""The route index hands every request to the router FastAPI would choose, asking that router
and no other (app/route_index.py): the routing of each of the app's routes is compared with
FastAPI's own walk over the same entries."""

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Host, Match, Mount, Route
from starlette.types import Scope

from app.config import Settings
from app.main import create_app
from app.route_index import RouterIndex, paths_pattern

ANY_ID = str(uuid.UUID(int=7))


def _http(method: str, path: str, root_path: str = "") -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": root_path + path,
        "root_path": root_path,
        "headers": [],
        "query_string": b"",
    }


def _walk(entries: list[BaseRoute], scope: Scope) -> tuple[Match, BaseRoute | None]:
    """FastAPI's choice: the first entry that serves path and method, else the first that
    serves the path."""
    partial = None
    for entry in entries:
        match, _ = entry.matches(dict(scope))
        if match is Match.FULL:
            return match, entry
        if match is Match.PARTIAL and partial is None:
            partial = entry
    return (Match.NONE, None) if partial is None else (Match.PARTIAL, partial)


def _operations(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, a concrete path) for every operation of the app's routers."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            path = re.sub(r"\{[^}]+\}", ANY_ID, context.path_format or "")
            for method in sorted(context.methods or ()):
                yield method, path


@pytest.fixture(scope="module")
def routed() -> FastAPI:
    """An app to route with, never started: routing needs no database. Without the journey's
    direct answer, which is asked before the index (tests/common/test_direct_answers.py)."""
    return create_app(Settings(direct_answers=False))


def _index(app: FastAPI) -> RouterIndex:
    index = app.router.routes[0]
    assert isinstance(index, RouterIndex), "the index is the first entry"
    return index


def test_every_operation_goes_to_the_router_fastapi_would_choose(routed: FastAPI) -> None:
    index = _index(routed)
    indexed = 0
    for method, path in _operations(routed):
        expected = _walk(routed.router.routes[1:], _http(method, path))
        assert expected[0] is Match.FULL, (method, path)
        if expected[1] in index.entries:
            indexed += 1
            assert index.router_for(_http(method, path)) == expected, (method, path)
        else:  # a route of the app's own (the docs): FastAPI finds it after the index
            assert index.router_for(_http(method, path)) == (Match.NONE, None), (method, path)
    assert indexed > 80


def test_each_path_asks_one_router(routed: FastAPI) -> None:
    # The point of the index: FastAPI asked every router before the right one, ~20 µs each.
    index = _index(routed)
    for method, path in _operations(routed):
        if _walk(routed.router.routes[1:], _http(method, path))[1] in index.entries:
            assert len(index.candidates(path)) == 1, (method, path, index.candidates(path))


def test_a_path_served_with_another_method_is_the_routers_405(routed: FastAPI) -> None:
    index = _index(routed)
    scope = _http("DELETE", "/api/v1/worklists/integration")
    assert index.router_for(scope) == _walk(routed.router.routes[1:], scope)
    assert index.router_for(scope)[0] is Match.PARTIAL


def test_what_no_router_serves_is_left_to_fastapi(routed: FastAPI) -> None:
    index = _index(routed)
    for path in ("/api/v1/nothing-here", "/api/v1/worklists/integration/", "/openapi.json"):
        assert index.router_for(_http("GET", path)) == (Match.NONE, None), path
    assert index.matches({"type": "lifespan"}) == (Match.NONE, {})


async def test_answers_through_the_index_are_the_apps(http: httpx.AsyncClient) -> None:
    refused = await http.delete("/api/v1/worklists/integration")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET"
    assert refused.headers["content-type"] == "application/problem+json"
    missing = await http.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    unauthenticated = await http.get("/api/v1/audit-events")
    assert unauthenticated.status_code == 401


def test_a_path_below_the_root_path_goes_to_its_router(routed: FastAPI) -> None:
    # Behind a proxy that strips a prefix (uvicorn --root-path), routes see the rest of the path.
    index = _index(routed)
    for method, path in [("GET", "/api/v1/clinic"), ("GET", "/fhir/R4/metadata")]:
        below = _http(method, path, root_path="/kap")
        assert index.router_for(below)[0] is Match.FULL, path
        assert index.router_for(below) == _walk(routed.router.routes[1:], below), path


def _ok() -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_a_routers_pattern_matches_exactly_its_paths() -> None:
    pattern = paths_pattern([Route("/a/{x}", _ok), Route("/a/{x}/b/{y:int}", _ok)])
    assert pattern.match("/a/1")
    assert pattern.match("/a/1/b/2")
    for elsewhere in ("/a", "/a/1/b/z", "/b"):
        assert not pattern.match(elsewhere), elsewhere
    assert paths_pattern([Mount("/m", routes=[])]).match("/m/x")
    assert paths_pattern([Host("api.test", app=PlainTextResponse("ok"))]).match("/x")  # asked
    assert not paths_pattern([]).match("/")
