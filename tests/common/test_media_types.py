"""A body that is not declared as JSON on a route that takes JSON: 415 unsupported_media_type,
saying what to send, and nothing changes. Other bodies (forms, signed webhooks) are not judged."""

import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Form

from app.common.media_types import is_json, takes_json_body
from tests.inbound.support import inbound_for
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, iso

NOT_JSON = [
    pytest.param({}, id="no content type"),
    pytest.param({"Content-Type": "text/plain"}, id="text/plain"),
    pytest.param({"Content-Type": "application/x-www-form-urlencoded"}, id="form"),
    pytest.param({"Content-Type": "application/xml"}, id="xml"),
    pytest.param({"Content-Type": "json"}, id="no type/subtype"),
]


def _as_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def _refused(
    clinic: Clinic, method: str, url: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await clinic.request(method, url, content=_as_bytes(body), headers=headers)
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in problem["detail"]
    return problem


@pytest.mark.parametrize("headers", NOT_JSON)
async def test_a_create_with_a_body_not_declared_json_is_refused_and_writes_nothing(
    clinic: Clinic, headers: dict[str, str]
) -> None:
    before = (await clinic.ok("GET", "/api/v1/clients"))["items"]
    body = {"first_name": "Maya", "last_name": "Okafor", "date_of_birth": "1988-04-17"}
    response = await clinic.request(
        "POST", "/api/v1/clients", content=_as_bytes(body), headers=headers
    )
    problem = assert_problem(response, 415, "unsupported_media_type")
    said = "has no Content-Type" if not headers else "is not declared as JSON"
    assert problem["detail"] == (
        f"The request body {said}: send it as JSON with `Content-Type: application/json`."
    )
    assert response.headers["accept-post"] == "application/json"
    assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == before


@pytest.mark.parametrize("headers", NOT_JSON)
async def test_updates_and_actions_refuse_it_too(clinic: Clinic, headers: dict[str, str]) -> None:
    client = await clinic.client()
    patched = await clinic.request(
        "PATCH",
        f"/api/v1/clients/{client['id']}",
        content=_as_bytes({"preferred_name": "May"}),
        headers=headers,
    )
    assert_problem(patched, 415, "unsupported_media_type")
    assert patched.headers["accept-patch"] == "application/json"
    assert (await clinic.ok("GET", f"/api/v1/clients/{client['id']}"))["preferred_name"] is None

    prep = await clinic.session("preparation", client["id"], T0)
    await _refused(
        clinic,
        "POST",
        f"/api/v1/preparation-sessions/{prep['id']}/cancel",
        {"reason": "Unwell"},
        headers,
    )
    await _refused(
        clinic,
        "POST",
        "/api/v1/integration-sessions",
        {"client_id": client["id"], "starts_at": iso(T0), "ends_at": iso(T0)},
        headers,
    )
    staff = {"email": "new@clinic.test", "name": "New Person", "role": "clinician"}
    await _refused(clinic, "POST", "/api/v1/staff", staff, headers)
    assert (await clinic.ok("GET", f"/api/v1/preparation-sessions/{prep['id']}"))[
        "status"
    ] == "scheduled"


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
async def test_json_and_json_suffixed_types_are_accepted(clinic: Clinic, content_type: str) -> None:
    client = await clinic.client()
    response = await clinic.request(
        "PATCH",
        f"/api/v1/clients/{client['id']}",
        content=_as_bytes({"preferred_name": "May"}),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json()["preferred_name"] == "May"


async def test_a_missing_body_is_missing_not_of_the_wrong_type(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0)
    response = await clinic.post(f"/api/v1/ketamine-sessions/{dose['id']}/complete")
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["type"] == "missing"


async def test_the_signed_inbound_webhook_reads_its_own_body(app: FastAPI, clinic: Clinic) -> None:
    """It takes no declared body, so its content type is its own business: a bad signature
    is still what answers."""
    inbound = await inbound_for(app, clinic, "standard")
    response = await inbound.post(b"not json", {"Content-Type": "text/plain"})
    assert response.status_code != 415


def test_only_routes_that_declare_a_json_body_take_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Declaring a form route needs python-multipart only to parse it, not to classify it.
    monkeypatch.setattr("fastapi.dependencies.utils.ensure_multipart_is_installed", lambda: None)
    app = FastAPI()

    @app.post("/form")
    async def form(name: Annotated[str, Form()]) -> None: ...

    @app.post("/json")
    async def as_json(body: dict[str, str]) -> None: ...

    @app.post("/none")
    async def no_body() -> None: ...

    routes = {getattr(route, "path", ""): route for route in app.routes}
    assert not takes_json_body(routes["/form"])
    assert takes_json_body(routes["/json"])
    assert not takes_json_body(routes["/none"])


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/fhir+json", True),
        ("application/merge-patch+json", True),
        ("text/json", False),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("", False),
    ],
)
def test_what_counts_as_json(content_type: str, expected: bool) -> None:
    assert is_json(content_type) is expected


async def test_the_openapi_document_lists_415_where_a_json_body_is_taken(
    http: httpx.AsyncClient,
) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    with_body = [
        (path, method)
        for path, item in paths.items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert len(with_body) > 10
    for path, method in with_body:
        assert "415" in paths[path][method]["responses"], (path, method)
    assert "415" not in paths["/api/v1/clients"]["get"]["responses"]
