"""Routes answered without FastAPI's request handling, for the hottest reads.

FastAPI answers a request by finding its route among the included routers, solving the route's
dependencies (the app's request checks, the caller, the session, the clock, each parameter
validated by pydantic), calling the endpoint and serialising what it returns: for a journey
about a tenth of our instructions (docs/performance.md, thirteenth pass). For an endpoint
marked `answers_directly`, `DirectRoutes`, the app's first route, does that work itself. It
matches a request through the route's own `matches` (which names the route in the scope, for
the logs and the metrics), reads the route's parameters with the mark's readers, calls the
app's dependencies and then the route's, each a coroutine of the request alone, in FastAPI's
order, calls the endpoint with them, and serialises its value with FastAPI's own
`serialize_response` under the route's response model, all in the route's own unit of work
(`UnitOfWorkRoute.in_unit_of_work`). Middleware, unit of work, audit rows, rate limits and
exception handlers are those of every other request; on PostgreSQL the unit of work's session
holds its own pooled connection, below the ORM (app/db_held.py).

It takes only what it reads exactly as FastAPI would: a request its route matches in full,
whose parameters its readers read (an id in `str(uuid)` form, a query parameter given at most
once). Anything else goes to FastAPI's routing before anything has run: another method or
spelling, a dependency override (tests), FastAPI's own telemetry (which names a request's route
in its spans from FastAPI's routing), `KAP_DIRECT_ANSWERS=false`. When the app is built, each
marked route is checked against its mark (`direct_handlers`), and a difference stops the app
from starting.
"""

import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from fastapi import FastAPI, Request
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import Response
from fastapi.routing import APIRoute, serialize_response
from starlette.datastructures import QueryParams, URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])
OfRequest = Callable[[Request], Awaitable[Any]]

FASTAPI_READS = object()
"""What a reader gives for a text FastAPI must read itself (to validate it, or to refuse it)."""

_MARK = "__kap_direct_answer__"
_TAKEN = "kap.direct_answer"  # the scope's key for a match's handler and parameters
_TELEMETRY = "fastapi.telemetry"  # set in the scope while FastAPI's telemetry is on


@dataclass(frozen=True, slots=True)
class Reader:
    """How a direct answer reads a parameter: the type the route declares for it, and its
    value from its text (None: a query parameter not given), or `FASTAPI_READS`."""

    annotation: Any
    read: Callable[[str | None], Any]


def _uuid(text: str | None) -> object:
    """An id written as `str(uuid)` writes it; other spellings, which pydantic may read or
    refuse, are FastAPI's."""
    if text is None:
        return FASTAPI_READS
    try:
        value = uuid.UUID(text)
    except ValueError:
        return FASTAPI_READS
    return value if str(value) == text else FASTAPI_READS


UUID = Reader(uuid.UUID, _uuid)
OPTIONAL_UUID = Reader(uuid.UUID | None, lambda text: None if text is None else _uuid(text))


def only_absent(annotation: Any, default: Any) -> Reader:
    """A query parameter read only when not given: FastAPI checks any value given."""
    return Reader(annotation, lambda text: default if text is None else FASTAPI_READS)


@dataclass(frozen=True, slots=True)
class DirectAnswer:
    """An endpoint's parameters as its direct answer reads them."""

    path: Mapping[str, Reader]
    query: Mapping[str, Reader]


def answers_directly(
    path: Mapping[str, Reader] | None = None, query: Mapping[str, Reader] | None = None
) -> Callable[[F], F]:
    """Marks an endpoint to be answered directly wherever its parameters allow."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _MARK, DirectAnswer(path or {}, query or {}))
        return endpoint

    return mark


class DirectAnswerMismatch(RuntimeError):
    """A marked route has parameters or dependencies its direct answer cannot read or call."""


class InUnitOfWork(Protocol):
    """A route that runs a handler in a unit of work of its own (app.unit_of_work's
    UnitOfWorkRoute)."""

    async def in_unit_of_work(
        self,
        request: Request,
        handler: Callable[[Request], Awaitable[Response]],
        *,
        direct: bool = False,
    ) -> Response: ...


class DirectHandler:
    """One marked route in one app, checked against both."""

    def __init__(
        self, route: APIRoute, mark: DirectAnswer, calls: list[tuple[str | None, OfRequest]]
    ) -> None:
        if not callable(getattr(route, "in_unit_of_work", None)):
            raise DirectAnswerMismatch(f"{route.name}: its route runs no unit of work")
        self.route = route
        self.unit_of_work = cast(InUnitOfWork, route)
        self.mark = mark
        self._calls = calls  # the app's dependencies (no name), then the route's

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """FULL with the route's own child scope when the answer takes this request; else
        NONE, and FastAPI's routing finds the route (its 405, its 422) as before."""
        if _TELEMETRY in scope or scope["app"].dependency_overrides:
            return Match.NONE, {}
        match, child = self.route.matches(scope)  # PARTIAL for another method
        if match is not Match.FULL:
            return Match.NONE, {}
        parameters = {}
        for name, reader in self.mark.path.items():
            parameters[name] = reader.read(child["path_params"][name])
        if self.mark.query:
            query = QueryParams(scope["query_string"])
            for name, reader in self.mark.query.items():
                given = query.getlist(name)
                if len(given) > 1:  # FastAPI reads the last, pydantic may refuse a list
                    return Match.NONE, {}
                parameters[name] = reader.read(given[0] if given else None)
        if FASTAPI_READS in parameters.values():
            return Match.NONE, {}
        return Match.FULL, {**child, _TAKEN: (self, parameters)}

    async def answer(self, request: Request, parameters: Mapping[str, Any]) -> Response:
        values = dict(parameters)
        for name, call in self._calls:
            value = await call(request)
            if name is not None:
                values[name] = value
        route = self.route
        content = await serialize_response(
            field=route.response_field,
            response_content=await route.endpoint(**values),
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
        for handler in self.handlers:
            match, child = handler.matches(scope)
            if match is Match.FULL:
                return match, child
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        taken: tuple[DirectHandler, dict[str, Any]] = scope.pop(_TAKEN)
        handler, parameters = taken

        async def answer(request: Request) -> Response:
            return await handler.answer(request, parameters)

        request = Request(scope, receive)
        response = await handler.unit_of_work.in_unit_of_work(request, answer, direct=True)
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the routers themselves answer, after this one


def direct_handlers(app: FastAPI, routes: Iterable[Any]) -> list[DirectHandler]:
    """The marked routes among `routes`, each checked against its mark and `app`. The routers
    holding them must be included as they are: a prefix is found (the route is not served at
    its own path), dependencies or a response class given to `include_router` are not."""
    app_calls: list[tuple[str | None, OfRequest]] = [
        (None, _of_request_alone(depends.dependency, "the app's"))
        for depends in app.router.dependencies
    ]
    if not isinstance(app.router.default_response_class, DefaultPlaceholder):
        raise DirectAnswerMismatch("the app has a default response class of its own")
    handlers = []
    for route in routes:
        mark = getattr(getattr(route, "endpoint", None), _MARK, None)
        if isinstance(route, APIRoute) and isinstance(mark, DirectAnswer):
            problems = _differences(app, route, mark)
            if problems:
                raise DirectAnswerMismatch(f"{route.name}: " + "; ".join(problems))
            calls = [
                (sub.name, _of_request_alone(sub.call, route.name))
                for sub in route.dependant.dependencies
            ]
            handlers.append(DirectHandler(route, mark, app_calls + calls))
    return handlers


def _differences(app: FastAPI, route: APIRoute, mark: DirectAnswer) -> list[str]:
    dependant, problems = route.dependant, []
    for kind, params, readers in (
        ("path", dependant.path_params, mark.path),
        ("query", dependant.query_params, mark.query),
    ):
        declared = {p.name: (p.alias, p.field_info.annotation) for p in params}
        if declared != {name: (name, reader.annotation) for name, reader in readers.items()}:
            problems.append(f"its {kind} parameters, names or types are not the mark's")
    for param in dependant.query_params:
        reader = mark.query.get(param.name)
        if reader is not None and reader.read(None) != param.field_info.default:
            problems.append(f"the default of its query parameter {param.name} is not the mark's")
    if dependant.header_params or dependant.cookie_params or dependant.body_params:
        problems.append("it has header, cookie or body parameters")
    if route.dependencies:
        problems.append("it has dependencies beyond its parameters'")
    if route.status_code not in (None, 200) or not isinstance(
        route.response_class, DefaultPlaceholder
    ):
        problems.append("it answers with its own status or response class")
    if route.response_field is None:
        problems.append("it has no response model")
    sample = dict.fromkeys(mark.path, "x")
    try:
        served = app.url_path_for(route.name, **sample) == route.url_path_for(route.name, **sample)
    except NoMatchFound:
        served = False
    if not served:
        problems.append("the app does not serve it at its own path")
    return problems


def _of_request_alone(call: Callable[..., Any] | None, whose: str) -> OfRequest:
    """`call` if it is a coroutine function (or object) of the request alone."""
    method = call if inspect.isroutine(call) else getattr(call, "__call__", None)  # noqa: B004
    parameters = list(inspect.signature(call).parameters.values()) if call else []
    if (
        call is None
        or not inspect.iscoroutinefunction(method)
        or len(parameters) != 1
        or parameters[0].annotation is not Request
    ):
        raise DirectAnswerMismatch(f"{whose} dependency {call!r} is not a coroutine of the request")
    return cast(OfRequest, call)
