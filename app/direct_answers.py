"""Answers a route gives without FastAPI's request handling, for the hottest reads.

FastAPI answers a request by finding its route among the routers, solving the route's
dependencies (the app's request checks, the caller, the session, the clock, each parameter
validated by pydantic), calling the endpoint and serialising what it returns: for a journey
about a tenth of our CPU, more than the window rule (docs/performance.md, thirteenth pass). A
`DirectAnswer` is the same work written out for one route: the app's request checks called as
they are, then the route's own dependencies, which the answer resolves by calling the very
functions FastAPI would, in its order, and the value serialised by FastAPI's own
`serialize_response` under the route's response model. `DirectRoutes`, the app's first route,
matches a request as the route itself does (its `matches`, which also names it in the scope for
the logs and metrics) and runs the answer in the route's unit of work (UnitOfWorkRoute), inside
the same middleware and exception handlers: its audit rows, rate limits, errors and headers are
those of any other request.

A direct answer takes only a request its route matches in full (path and method) whose
parameters it can read exactly as FastAPI would (an id in its canonical form, a query parameter
it reads given at most once); anything else (another method, another spelling of an id, a
dependency override in tests, the switch `KAP_DIRECT_ANSWERS=false`) goes to FastAPI's
routing, before anything has run. When
the app is built, each route's dependencies are checked against what its answer resolves
(`direct_handlers`): a dependency or parameter added to the route and not to its answer stops
the app from starting rather than being skipped.
"""

import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from fastapi import FastAPI, Request
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import Response
from fastapi.routing import APIRoute, serialize_response
from starlette.datastructures import QueryParams
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])
Answer = Callable[[Request, Mapping[str, Any]], Awaitable[Any]]
RequestCheck = Callable[[Request], Awaitable[Any]]
Parser = Callable[[str], Any]
"""A path parameter's value from its text, or None when FastAPI must read it (and answer 422)."""
QueryParser = Callable[[str | None], Any]
"""A query parameter's value from its text (None when absent: the route's default), or
`FASTAPI_READS` when FastAPI must read it."""
FASTAPI_READS = object()

_ATTRIBUTE = "__kap_direct_answer__"
_TAKEN = "kap.direct_answer"  # the scope's key for the handler and path arguments of a match


class InUnitOfWork(Protocol):
    """A route that runs a handler in a unit of work of its own (app.unit_of_work's
    UnitOfWorkRoute, which imports this module)."""

    async def in_unit_of_work(
        self, request: Request, handler: Callable[[Request], Awaitable[Response]]
    ) -> Response: ...


class DirectAnswerMismatch(RuntimeError):
    """A route's dependencies or parameters are not the ones its direct answer resolves."""


@dataclass(frozen=True, slots=True)
class DirectAnswer:
    """What an endpoint returns, computed from the request and its parameters."""

    answer: Answer
    resolves: tuple[Callable[..., Any], ...]
    """The route's own dependencies, in the order FastAPI solves them, which `answer` calls."""
    path: Mapping[str, Parser]
    query: Mapping[str, QueryParser] = field(default_factory=dict)


def answers_directly(direct: DirectAnswer) -> Callable[[F], F]:
    """Marks an endpoint as answered by `direct` wherever the request allows."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, direct)
        return endpoint

    return mark


def only_absent(default: Any) -> QueryParser:
    """A query parameter read only when absent (its default): FastAPI validates any value."""

    def parse(text: str | None) -> Any:
        return default if text is None else FASTAPI_READS

    return parse


def optional_uuid(text: str | None) -> object:
    """An optional id in `str(uuid)` form; another spelling is FastAPI's to read."""
    if text is None:
        return None
    value = canonical_uuid(text)
    return FASTAPI_READS if value is None else value


def canonical_uuid(text: str) -> uuid.UUID | None:
    """A UUID written as `str(uuid)` writes it; other spellings pydantic may accept or refuse
    are left to it."""
    try:
        value = uuid.UUID(text)
    except ValueError:
        return None
    return value if str(value) == text else None


class DirectHandler:
    """One route's direct answer in one app, checked against the route and the app."""

    def __init__(self, route: APIRoute, direct: DirectAnswer, checks: list[RequestCheck]) -> None:
        if not callable(getattr(route, "in_unit_of_work", None)):
            raise DirectAnswerMismatch(f"{route.name}: its route runs no unit of work")
        self.route = route
        self.unit_of_work = cast(InUnitOfWork, route)
        self.direct = direct
        self._checks = checks

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL with the route's own child scope when the answer takes this request; else
        NONE, and FastAPI's routing finds the route (and its 405 or 422) as before."""
        if scope["app"].dependency_overrides:
            return Match.NONE, {}
        match, child = self.route.matches(scope)  # PARTIAL for another method: FastAPI's 405
        if match is not Match.FULL:
            return Match.NONE, {}
        arguments = {}
        path = child["path_params"]
        for name, parse in self.direct.path.items():
            value = parse(path[name])
            if value is None:
                return Match.NONE, {}
            arguments[name] = value
        if self.direct.query:
            query = QueryParams(scope["query_string"])
            for name, read in self.direct.query.items():
                given = query.getlist(name)
                value = read(given[0] if given else None) if len(given) < 2 else FASTAPI_READS
                if value is FASTAPI_READS:
                    return Match.NONE, {}
                arguments[name] = value
        return Match.FULL, {**child, _TAKEN: (self, arguments)}

    async def answer(self, request: Request, arguments: Mapping[str, Any]) -> Response:
        for check in self._checks:
            await check(request)
        value = await self.direct.answer(request, arguments)
        route = self.route
        content = await serialize_response(
            field=route.response_field,
            response_content=value,
            include=route.response_model_include,
            exclude=route.response_model_exclude,
            by_alias=route.response_model_by_alias,
            exclude_unset=route.response_model_exclude_unset,
            exclude_defaults=route.response_model_exclude_defaults,
            exclude_none=route.response_model_exclude_none,
            dump_json=True,
        )
        return Response(content=content, media_type="application/json")


class DirectRoutes(BaseRoute):
    """The app's routes with a direct answer, asked before its routers."""

    def __init__(self, handlers: Iterable[DirectHandler]) -> None:
        self.handlers = list(handlers)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            for handler in self.handlers:
                match, child = handler.matches(scope)
                if match is Match.FULL:
                    return match, child
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        taken: tuple[DirectHandler, dict[str, Any]] = scope.pop(_TAKEN)
        handler, arguments = taken

        async def answer(request: Request) -> Response:
            return await handler.answer(request, arguments)

        response = await handler.unit_of_work.in_unit_of_work(Request(scope, receive), answer)
        await response(scope, receive, send)


def direct_handlers(app: FastAPI, routes: Iterable[Any]) -> list[DirectHandler]:
    """The direct answers among `routes`, each checked against its route and `app`."""
    handlers = []
    for route in routes:
        direct = getattr(getattr(route, "endpoint", None), _ATTRIBUTE, None)
        if isinstance(route, APIRoute) and isinstance(direct, DirectAnswer):
            _check_route(route, direct)
            handlers.append(DirectHandler(route, direct, _request_checks(app, route)))
    return handlers


def _check_route(route: APIRoute, direct: DirectAnswer) -> None:
    dependant = route.dependant
    solved = tuple(dependency.call for dependency in dependant.dependencies)
    problems = []
    if solved != direct.resolves:
        problems.append(f"its dependencies are {solved}, the answer resolves {direct.resolves}")
    if [param.name for param in dependant.path_params] != list(direct.path):
        problems.append("its path parameters are not the ones the answer reads")
    defaults = {param.name: param.field_info.default for param in dependant.query_params}
    if defaults.keys() != direct.query.keys() or any(
        direct.query[name](None) != default for name, default in defaults.items()
    ):
        problems.append("its query parameters or their defaults are not the answer's")
    if dependant.header_params or dependant.cookie_params:
        problems.append("it has header or cookie parameters")
    if dependant.body_params or route.dependencies:
        problems.append("it has a body or dependencies of its own beyond its parameters")
    if route.status_code not in (None, 200) or not isinstance(
        route.response_class, DefaultPlaceholder
    ):
        problems.append("it answers with its own status or response class")
    if route.response_field is None:
        problems.append("it has no response model")
    if problems:
        raise DirectAnswerMismatch(f"{route.name}: " + "; ".join(problems))


def _request_checks(app: FastAPI, route: APIRoute) -> list[RequestCheck]:
    """The app's own dependencies (request checks run before every route's), each a function
    of the request alone; FastAPI runs them first, and so does the direct answer."""
    checks: list[RequestCheck] = []
    for depends in app.router.dependencies:
        check = depends.dependency
        parameters = list(inspect.signature(check).parameters.values()) if check else []
        if (
            check is None
            or len(parameters) != 1
            or parameters[0].annotation is not Request
            or not inspect.iscoroutinefunction(check)
        ):
            raise DirectAnswerMismatch(
                f"{route.name}: the app's dependency {check!r} is not a coroutine of the "
                "request alone"
            )
        checks.append(check)
    return checks
