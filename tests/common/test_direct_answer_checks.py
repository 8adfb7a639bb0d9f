"""The check made when the app is built (app/direct_answers.py `direct_handlers`): a route
marked to be answered directly must have only what its mark reads, or the app does not start."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Cookie, Depends, FastAPI, Header, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from app.direct_answers import (
    FASTAPI_READS,
    OPTIONAL_UUID,
    UUID,
    DirectAnswerMismatch,
    answers_directly,
    direct_handlers,
    only_absent,
)
from app.unit_of_work import UnitOfWorkRoute


async def _caller(request: Request) -> str:
    return "caller"


async def _refuse_nothing(request: Request) -> None:
    return None


async def _needs_more(request: Request, now: Annotated[str, Depends(_caller)]) -> None:
    return None


def _not_a_coroutine(request: Request) -> None:
    return None


async def _not_of_a_request(value: str) -> None:
    return None


class Item(BaseModel):
    id: str


Caller = Annotated[str, Depends(_caller)]
BOTH = {"item_id": UUID}


def _route(
    mark: Callable[[Any], Any] = answers_directly(path=BOTH), **route: Any
) -> Callable[[APIRouter], None]:
    """GET /items/{item_id} with a caller, marked by `mark`, declared with `route`."""

    def declare(router: APIRouter) -> None:
        @router.get("/items/{item_id}", response_model=route.pop("response_model", Item), **route)
        @mark
        async def get_item(item_id: uuid.UUID, caller: Caller) -> Item:
            return Item(id=str(item_id))

    return declare


def _with(
    annotation: Any, mark: Callable[[Any], Any] = answers_directly(path=BOTH)
) -> Callable[[APIRouter], None]:
    """The route with a parameter `full` of this annotation (False by default)."""

    def declare(router: APIRouter) -> None:
        @router.get("/items/{item_id}", response_model=Item)
        @mark
        async def get_item(
            item_id: uuid.UUID,
            caller: Caller,
            full: annotation = False,
        ) -> Item:
            return Item(id=str(item_id))

    return declare


def _app_with(declare: Callable[[APIRouter], None], *checks: Any, **included: Any) -> FastAPI:
    app = FastAPI(dependencies=[Depends(check) for check in checks])
    router = APIRouter(route_class=UnitOfWorkRoute)
    declare(router)
    app.include_router(router, **included)
    app.state.routes = router.routes
    return app


def test_a_route_as_its_mark_says_gets_a_direct_handler() -> None:
    app = _app_with(_route(), _refuse_nothing)
    [handler] = direct_handlers(app, app.state.routes)
    assert handler.route is app.state.routes[0]


def test_a_route_without_a_unit_of_work_stops_the_app() -> None:
    app = FastAPI()
    router = APIRouter()  # FastAPI's own APIRoute: no unit of work, so no audit row
    _route()(router)
    app.include_router(router)
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, router.routes)


DIFFERENCES = {
    "a query parameter the mark does not read": _with(bool),
    "a query parameter with another default": _with(
        bool, answers_directly(path=BOTH, query={"full": only_absent(bool, True)})
    ),
    "a path parameter of another type": _route(answers_directly(path={"item_id": OPTIONAL_UUID})),
    "a path parameter of another name": _route(answers_directly(path={"id": UUID})),
    "a header parameter": _with(Annotated[str, Header()]),
    "a cookie": _with(Annotated[str, Cookie()]),
    "a body": _with(Item),
    "a dependency of the route itself": _route(dependencies=[Depends(_refuse_nothing)]),
    "its own status": _route(status_code=201),
    "its own response class": _route(response_class=HTMLResponse),
    "no response model": _route(response_model=None),
}


@pytest.mark.parametrize("declare", DIFFERENCES.values(), ids=DIFFERENCES.keys())
def test_a_route_that_differs_from_its_mark_stops_the_app(
    declare: Callable[[APIRouter], None],
) -> None:
    app = _app_with(declare)
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, app.state.routes)


@pytest.mark.parametrize("dependency", [_needs_more, _not_of_a_request, _not_a_coroutine])
def test_a_dependency_other_than_a_coroutine_of_the_request_stops_the_app(
    dependency: Any,
) -> None:
    app = _app_with(_with(Annotated[None, Depends(dependency)]))
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, app.state.routes)


def test_a_route_served_under_a_prefix_stops_the_app() -> None:
    app = _app_with(_route(), prefix="/v2")
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, app.state.routes)


@pytest.mark.parametrize("check", [_needs_more, _not_of_a_request, _not_a_coroutine])
def test_an_app_dependency_other_than_a_request_check_stops_the_app(check: Any) -> None:
    app = _app_with(_route(), check)
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, app.state.routes)


def test_an_app_with_its_own_response_class_stops_the_app() -> None:
    app = FastAPI(default_response_class=HTMLResponse)
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, [])


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("7a825a41-9f04-4ab6-a7f1-b3c7853b2d8b", True),
        ("7A825A41-9F04-4AB6-A7F1-B3C7853B2D8B", False),
        ("7a825a419f044ab6a7f1b3c7853b2d8b", False),
        ("urn:uuid:7a825a41-9f04-4ab6-a7f1-b3c7853b2d8b", False),
        ("7a825a41-9f04-4ab6-a7f1-b3c7853b2d8", False),
        ("", False),
    ],
)
def test_only_an_id_as_str_writes_it_is_read(text: str, read: bool) -> None:
    assert (UUID.read(text) is not FASTAPI_READS) is read
    assert (OPTIONAL_UUID.read(text) is not FASTAPI_READS) is read
    assert OPTIONAL_UUID.read(None) is None
