"""The journey's and the worklist's direct answers (app/direct_answers.py) answer as FastAPI does.

Each request is sent to the suite's app, where they are answered directly, and to a twin on
the same database with direct answers off, where FastAPI answers them: the status, the headers
(but for the request id), the body and the audit rows each request left must be the same, and
the direct answer must have answered exactly the requests it takes."""

import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.direct_answers import (
    DirectAnswer,
    DirectAnswerMismatch,
    DirectHandler,
    answers_directly,
    canonical_uuid,
    direct_handlers,
    only_absent,
)
from app.unit_of_work import UnitOfWorkRoute
from tests.safety_reviews.support import record_phq9
from tests.support.apps import MakeApp, client_of
from tests.support.audit_items import audit_items
from tests.support.factories import T0, Clinic, bearer, bootstrap

VOLATILE_HEADERS = {"x-request-id"}
AUDITED_AS_SENT = ("id", "request_id")  # each request's own


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the direct answer answered, in order."""
    paths: list[str] = []
    answer = DirectHandler.answer

    async def spy(self: DirectHandler, request: Any, arguments: Any) -> Any:
        paths.append(request.url.path)
        return await answer(self, request, arguments)

    monkeypatch.setattr(DirectHandler, "answer", spy)
    return paths


async def _client_with_alerts(clinic: Clinic) -> str:
    """A client whose journey has each kind of session, a window alert, a dose's safety flags
    and an open safety review."""
    client = await clinic.prepared_client()
    dose_at = clinic.clock.now - timedelta(days=3)
    dose = await clinic.dose(client["id"], dose_at)
    clinic.clock.set(dose_at + timedelta(hours=3))
    await clinic.action("ketamine", dose["id"], "complete")
    clinic.clock.set(T0)
    await clinic.integration(client["id"], dose_at + timedelta(days=20))  # outside its window
    await clinic.dose(client["id"], T0 + timedelta(days=2))
    await record_phq9(clinic, client["id"], 2, T0 - timedelta(hours=1))
    return str(client["id"])


async def _audited(app: FastAPI, request_id: str) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as db:
        items = await audit_items(db, AuditEvent.request_id == request_id)
    return [{k: v for k, v in vars(item).items() if k not in AUDITED_AS_SENT} for item in items]


async def _both(
    app: FastAPI, twin: FastAPI, path: str, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    async with client_of(app) as direct, client_of(twin) as fastapi:
        return await direct.get(path, headers=headers), await fastapi.get(path, headers=headers)


def _journeys_counted(app: FastAPI) -> float:
    labels = {"method": "GET", "route": "/api/v1/clients/{client_id}/journey", "status": "200"}
    counted = app.state.metrics.registry.get_sample_value("kap_http_requests_total", labels)
    return counted or 0.0


def _same_answer(direct: httpx.Response, fastapi: httpx.Response) -> None:
    assert direct.status_code == fastapi.status_code, (direct.text, fastapi.text)
    assert direct.content == fastapi.content
    kept = [(k, v) for k, v in direct.headers.multi_items() if k not in VOLATILE_HEADERS]
    assert kept == [(k, v) for k, v in fastapi.headers.multi_items() if k not in VOLATILE_HEADERS]


async def test_the_direct_journey_answers_as_fastapi_does_for_each_caller(
    clinic: Clinic, app: FastAPI, make_app: MakeApp, answered: list[str]
) -> None:
    client_id = await _client_with_alerts(clinic)
    twin = make_app(direct_answers=False)
    path = f"/api/v1/clients/{client_id}/journey"
    _, clinician = await clinic.staff("clinician")
    _, scheduler = await clinic.staff("scheduler")
    counted_before = _journeys_counted(app)
    for headers in (clinic.headers, clinician, scheduler):
        direct, fastapi = await _both(app, twin, path, headers)
        assert direct.status_code == 200
        _same_answer(direct, fastapi)
        assert await _audited(app, direct.headers["x-request-id"]) == await _audited(
            twin, fastapi.headers["x-request-id"]
        )
    journey = direct.json()  # the scheduler's: no clinical alert, every kind of session
    assert {s["kind"] for s in journey["sessions"]} == {"preparation", "ketamine", "integration"}
    assert answered == [path] * 3
    # Counted in the metrics under the route's template, as FastAPI's routing names it.
    assert [_journeys_counted(each) for each in (app, twin)] == [counted_before + 3, 3]


def _denials(client_id: str, other_clinics: str) -> list[tuple[str, dict[str, str], int]]:
    journey = f"/api/v1/clients/{client_id}/journey"
    return [
        (f"/api/v1/clients/{other_clinics}/journey", {}, 404),
        ("/api/v1/clients/00000000-0000-4000-8000-000000000000/journey", {}, 404),
        (journey, {"authorization": "Bearer kap_nosuchkey_secretsecret"}, 401),
        (journey, {"authorization": "Basic abc"}, 401),
    ]


async def test_denials_are_answered_and_audited_as_fastapi_does(
    clinic: Clinic, app: FastAPI, make_app: MakeApp, answered: list[str], http: httpx.AsyncClient
) -> None:
    client_id = await _client_with_alerts(clinic)
    elsewhere = await bootstrap(app, http, clinic.clock)
    others = str((await elsewhere.client())["id"])
    twin = make_app(direct_answers=False)
    for path, headers, status in _denials(client_id, others):
        sent = headers or clinic.headers
        direct, fastapi = await _both(app, twin, path, sent)
        assert direct.status_code == status, direct.text
        _same_answer(direct, fastapi)
        assert await _audited(app, direct.headers["x-request-id"]) == await _audited(
            twin, fastapi.headers["x-request-id"]
        )
    assert answered == [path for path, _, _ in _denials(client_id, others)]


@pytest.mark.parametrize(
    "spelling",
    [
        str.upper,  # pydantic reads it; FastAPI does
        lambda text: text.replace("-", ""),  # the same
        lambda text: f"{{{text}}}",  # the same, or its 422
        lambda text: text[:-1],  # a 422, from FastAPI
    ],
)
async def test_an_id_in_another_spelling_is_left_to_fastapi(
    clinic: Clinic,
    app: FastAPI,
    make_app: MakeApp,
    answered: list[str],
    spelling: Callable[[str], str],
) -> None:
    client_id = await _client_with_alerts(clinic)
    path = f"/api/v1/clients/{spelling(client_id)}/journey"
    direct, fastapi = await _both(app, make_app(direct_answers=False), path, clinic.headers)
    _same_answer(direct, fastapi)
    assert answered == []


WORKLIST = "/api/v1/worklists/integration"


async def test_the_worklist_answers_as_fastapi_does_and_leaves_it_what_it_must_read(
    clinic: Clinic, app: FastAPI, make_app: MakeApp, answered: list[str]
) -> None:
    await _client_with_alerts(clinic)
    clinician_id, _ = await clinic.staff("clinician")
    twin = make_app(direct_answers=False)
    taken = ["", f"?clinician_id={clinician_id}", "?unknown=1", f"?clinician_id={clinician_id}&x="]
    left = [
        "?limit=5",  # FastAPI checks a limit against its bounds
        "?limit=0",
        f"?clinician_id={clinician_id.upper()}",
        f"?clinician_id={clinician_id}&clinician_id={clinician_id}",
        "?clinician_id=",
        "?clinician_id=nope",
    ]
    for query in taken + left:
        direct, fastapi = await _both(app, twin, WORKLIST + query, clinic.headers)
        _same_answer(direct, fastapi)
        assert await _audited(app, direct.headers["x-request-id"]) == await _audited(
            twin, fastapi.headers["x-request-id"]
        )
    assert answered == [WORKLIST] * len(taken)


@pytest.mark.parametrize("method", ["HEAD", "POST", "DELETE"])
async def test_another_method_is_left_to_fastapi(
    clinic: Clinic, app: FastAPI, make_app: MakeApp, answered: list[str], method: str
) -> None:
    client_id = await _client_with_alerts(clinic)
    path = f"/api/v1/clients/{client_id}/journey"
    async with client_of(app) as direct, client_of(make_app(direct_answers=False)) as fastapi:
        sent = await direct.request(method, path, headers=clinic.headers)
        _same_answer(sent, await fastapi.request(method, path, headers=clinic.headers))
    assert sent.status_code == 405
    assert answered == []


async def test_a_dependency_override_is_honoured(
    clinic: Clinic, app: FastAPI, answered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = await _client_with_alerts(clinic)
    monkeypatch.setitem(app.dependency_overrides, select, select)  # any override at all
    response = await clinic.get(f"/api/v1/clients/{client_id}/journey")
    assert response.status_code == 200
    assert answered == []


async def test_the_apps_request_checks_run_first(
    clinic: Clinic, app: FastAPI, make_app: MakeApp, answered: list[str]
) -> None:
    """check_request refuses a NUL in the query before the caller is looked up: 422, where
    the journey alone would answer 401."""
    client_id = await _client_with_alerts(clinic)
    path = f"/api/v1/clients/{client_id}/journey?x=%00"
    direct, fastapi = await _both(app, make_app(direct_answers=False), path, bearer("nokey"))
    assert direct.status_code == 422, direct.text
    _same_answer(direct, fastapi)
    assert answered == [f"/api/v1/clients/{client_id}/journey"]


# --- The check made when the app is built ----------------------------------------------------


async def _caller(request: Request) -> str:
    return "caller"


async def _refuse_nothing(request: Request) -> None:
    return None


async def _answer(request: Request, path: Mapping[str, Any]) -> dict[str, str]:
    return {"id": str(path["item_id"])}


class Item(BaseModel):
    id: str


def _app_with(route: Callable[[APIRouter], None], *checks: Any) -> tuple[FastAPI, APIRouter]:
    app = FastAPI(dependencies=[Depends(check) for check in checks])
    router = APIRouter(route_class=UnitOfWorkRoute)
    route(router)
    app.include_router(router)
    return app, router


ANSWER = DirectAnswer(_answer, resolves=(_caller,), path={"item_id": canonical_uuid})


def _as_declared(router: APIRouter) -> None:
    @router.get("/items/{item_id}", response_model=Item)
    @answers_directly(ANSWER)
    async def get_item(item_id: uuid.UUID, caller: Annotated[str, Depends(_caller)]) -> Item:
        return Item(id=str(item_id))


def _with_a_query(answer: DirectAnswer) -> Callable[[APIRouter], None]:
    """The route with a query parameter `full`, answered by `answer`."""

    def declare(router: APIRouter) -> None:
        @router.get("/items/{item_id}", response_model=Item)
        @answers_directly(answer)
        async def get_item(
            item_id: uuid.UUID, caller: Annotated[str, Depends(_caller)], full: bool = False
        ) -> Item:
            return Item(id=str(item_id))

    return declare


_WITH_ANOTHER_DEFAULT = DirectAnswer(
    _answer, (_caller,), {"item_id": canonical_uuid}, {"full": only_absent(True)}
)


def _with_another_dependency(router: APIRouter) -> None:
    @router.get("/items/{item_id}", response_model=Item)
    @answers_directly(ANSWER)
    async def get_item(
        item_id: uuid.UUID,
        caller: Annotated[str, Depends(_caller)],
        checked: Annotated[None, Depends(_refuse_nothing)],
    ) -> Item:
        return Item(id=str(item_id))


def _without_a_response_model(router: APIRouter) -> None:
    @router.get("/items/{item_id}", response_model=None)
    @answers_directly(ANSWER)
    async def get_item(item_id: uuid.UUID, caller: Annotated[str, Depends(_caller)]) -> Any:
        return {"id": str(item_id)}


def test_a_route_as_its_answer_declares_it_gets_a_direct_handler() -> None:
    app, router = _app_with(_as_declared, _refuse_nothing)
    [handler] = direct_handlers(app, router.routes)
    assert handler.route is router.routes[0]


def test_a_route_without_a_unit_of_work_stops_the_app() -> None:
    app = FastAPI()
    router = APIRouter()  # FastAPI's own APIRoute: no unit of work, so no audit row
    _as_declared(router)
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, router.routes)


@pytest.mark.parametrize(
    "declared",
    [
        _with_a_query(ANSWER),  # which reads no query
        _with_a_query(_WITH_ANOTHER_DEFAULT),
        _with_another_dependency,
        _without_a_response_model,
    ],
)
def test_a_route_that_differs_from_its_answer_stops_the_app(
    declared: Callable[[APIRouter], None],
) -> None:
    app, router = _app_with(declared)
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, router.routes)


async def _needs_more(request: Request, now: Annotated[str, Depends(_caller)]) -> None:
    return None


def _not_of_a_request(value: str) -> None:
    return None


@pytest.mark.parametrize("check", [_needs_more, _not_of_a_request])
def test_an_app_dependency_other_than_a_request_check_stops_the_app(check: Any) -> None:
    app, router = _app_with(_as_declared, check)
    with pytest.raises(DirectAnswerMismatch):
        direct_handlers(app, router.routes)


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
def test_only_a_canonical_uuid_is_read(text: str, read: bool) -> None:
    assert (canonical_uuid(text) is not None) is read
