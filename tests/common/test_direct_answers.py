"""The journey's and the worklist's direct answers (app/direct_answers.py) answer as FastAPI does.

Each request is sent to the suite's app, where they are answered directly, and to a twin on
the same database with direct answers off, where FastAPI answers them: the status, the headers
(but for the request id), the body and the audit rows each request left must be the same, and
the direct answer must have answered exactly the requests it takes."""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.routing import Match

from app.audit.models import AuditEvent
from app.clock import current_time
from app.direct_answers import (
    DirectHandler,
    DirectRoutes,
)
from tests.safety_reviews.support import record_phq9
from tests.support.apps import HandClock, MakeApp, client_of
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
    path = f"/api/v1/clients/{client_id}/journey"
    today = (await clinic.get(path)).json()
    later: datetime = clinic.clock.now + timedelta(days=365)

    async def a_year_later(request: Request) -> datetime:
        return later

    monkeypatch.setitem(app.dependency_overrides, current_time, a_year_later)
    response = await clinic.get(path)
    assert response.status_code == 200
    assert response.json() != today  # the windows judged a year later: FastAPI's override
    assert answered == [path]  # the first request only


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


async def test_rate_limits_count_and_answer_as_fastapis_do(
    clinic: Clinic, make_app: MakeApp, answered: list[str], wall: HandClock
) -> None:
    """Each twin counts its own requests: the fourth in a minute of three is refused by both,
    with the same headers, and the refusal is FastAPI's too (the direct answer took three)."""
    client_id = await _client_with_alerts(clinic)
    path = f"/api/v1/clients/{client_id}/journey"
    direct_app = make_app(rate_limit_per_minute=3)
    fastapi_app = make_app(rate_limit_per_minute=3, direct_answers=False)
    statuses = []
    for _ in range(4):
        direct, fastapi = await _both(direct_app, fastapi_app, path, clinic.headers)
        _same_answer(direct, fastapi)
        statuses.append(direct.status_code)
    assert statuses == [200, 200, 200, 429]
    assert "ratelimit" in direct.headers
    assert answered == [path] * 4  # taken all four times; the refusal came from authenticate


def test_fastapis_own_telemetry_is_left_its_route(app: FastAPI) -> None:
    """FastAPI names a request's route in its spans from its own routing: with its telemetry
    on (its scope key set), the direct answer steps aside."""
    [direct] = [entry for entry in app.router.routes if isinstance(entry, DirectRoutes)]
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": f"/api/v1/clients/{uuid.uuid4()}/journey",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "app": app,
    }
    assert direct.matches(scope)[0] is Match.FULL
    assert direct.matches({**scope, "fastapi.telemetry": object()})[0] is Match.NONE


def test_the_app_still_names_the_routes_paths(app: FastAPI) -> None:
    """DirectRoutes, asked first, leaves `url_path_for` to the routers."""
    assert app.url_path_for("get_journey", client_id="x") == "/api/v1/clients/x/journey"
