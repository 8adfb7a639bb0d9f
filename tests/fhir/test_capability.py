"""The CapabilityStatement says exactly what the live router serves, and every search parameter
it lists is honoured; the OpenAPI documents each FHIR operation's errors as OperationOutcomes."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.fhir.router import routers as fhir_routers
from tests.fhir.support import FHIR_JSON, Journey, fhir, journey, validate
from tests.support.apps import HandClock, MakeApp, client_of
from tests.support.factories import Clinic

PREFIX = "/fhir/R4"
SPECIAL = {"_count", "_summary", "_cursor"}
Resource = dict[str, Any]


def served(app: FastAPI) -> dict[str, Resource]:
    """Per resource type, what the router serves: interactions, operations and, from the
    OpenAPI document of each search route, its parameters and their FHIR types."""
    document = app.openapi()
    found: dict[str, Resource] = {}
    for route in [r for router in fhir_routers for r in router.routes]:
        assert isinstance(route, APIRoute)
        assert route.methods == {"GET"}, route.path
        parts = route.path.removeprefix(f"{PREFIX}/").split("/")
        if parts == ["metadata"]:
            continue
        entry = found.setdefault(parts[0], {"interactions": set(), "operations": set()})
        if len(parts) == 1:
            entry["interactions"].add("search-type")
            parameters = document["paths"][route.path]["get"]["parameters"]
            entry["params"] = {
                p["name"]: p["description"].split(" ")[1]
                for p in parameters
                if p["in"] == "query" and p["name"] not in SPECIAL
            }
        elif len(parts) == 2:
            entry["interactions"].add("read")
        else:
            entry["operations"].add(parts[2].removeprefix("$"))
    return found


async def test_the_statement_lists_exactly_what_the_router_serves(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    statement = validate((await http.get(f"{PREFIX}/metadata")).json())
    [rest] = statement["rest"]

    listed = {
        r["type"]: {
            "interactions": {i["code"] for i in r["interaction"]},
            "operations": {o["name"] for o in r.get("operation", [])},
            **(
                {"params": {p["name"]: p["type"] for p in r["searchParam"]}}
                if "searchParam" in r
                else {}
            ),
        }
        for r in rest["resource"]
    }

    assert listed == served(app)


async def test_the_count_limit_in_the_statement_is_the_one_applied(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    statement = (await http.get(f"{PREFIX}/metadata")).json()
    bundle = await fhir(clinic, "/Patient?_count=100000")

    applied = bundle["link"][0]["url"].rsplit("_count=", 1)[1]
    assert f"default 50, at most {applied}" in statement["rest"][0]["documentation"]


def _nothing(kind: str) -> str:
    """A value of the parameter's type that matches no record of the journey."""
    return {
        "reference": str(uuid.uuid4()),
        "token": "no-such-code",
        "string": "zzzz",
        "date": "eq1900-01-01",
    }[kind]


@pytest.fixture
async def made(clinic: Clinic, app: FastAPI) -> Journey:
    return await journey(clinic, app)


async def test_every_listed_parameter_filters(
    clinic: Clinic, http: httpx.AsyncClient, made: Journey
) -> None:
    statement = (await http.get(f"{PREFIX}/metadata")).json()
    cid = made.client["id"]
    checked = 0
    for resource in statement["rest"][0]["resource"]:
        for param in resource.get("searchParam", []):
            name, kind = param["name"], param["type"]
            scope = "subject" if name == "patient" else "patient"
            base = "" if resource["type"] == "Patient" else f"{scope}={cid}&"
            value = str(uuid.uuid4()) if name == "_id" else _nothing(kind)
            everything = await fhir(clinic, f"/{resource['type']}?{base}")
            filtered = await fhir(clinic, f"/{resource['type']}?{base}{name}={value}")
            assert everything["total"] > 0, resource["type"]
            assert filtered["total"] == 0, (resource["type"], name)
            checked += 1
    assert checked == 20


def _operations(app: FastAPI) -> list[tuple[str, Resource]]:
    paths = app.openapi()["paths"]
    return [(path, item["get"]) for path, item in paths.items() if path.startswith(PREFIX)]


async def test_openapi_documents_each_fhir_error_as_an_operation_outcome(app: FastAPI) -> None:
    for path, operation in _operations(app):
        responses = operation["responses"]
        if path == f"{PREFIX}/metadata":
            assert set(responses) == {"200", "422", "429"}
        elif path.endswith("}") or path.endswith("$everything"):
            assert {"401", "404", "422", "429"} <= set(responses), path
        else:
            assert {"400", "401", "403", "422", "429"} <= set(responses), path
        for status, response in responses.items():
            if status in {"200", "422"} and "content" not in response:
                continue
            assert set(response["content"]) == {FHIR_JSON}, (path, status)
            schema = response["content"][FHIR_JSON]["schema"]
            if status != "200":
                assert schema["properties"]["resourceType"]["enum"] == ["OperationOutcome"]
        assert "Retry-After" in responses["429"]["headers"]
        required = [p["name"] for p in operation.get("parameters", []) if p.get("required")]
        # `patient` is optional where a search spans the clinic without it; Observation needs
        # `patient` or `subject` (either one), which its parameters' descriptions say.
        assert required == (["patient_id"] if "{patient_id}" in path else []) or all(
            p.endswith("_id") for p in required
        ), path


async def test_middleware_refusals_are_operation_outcomes(
    http: httpx.AsyncClient, app: FastAPI
) -> None:
    limit = app.state.settings.max_body_bytes
    too_big = await http.request(
        "GET", f"{PREFIX}/Patient", content=b"x" * (limit + 1), headers={"Content-Type": FHIR_JSON}
    )
    unauthenticated = await http.get(f"{PREFIX}/Patient")
    control_character = await http.get(f"{PREFIX}/metadata?_format=%00")

    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == FHIR_JSON
    assert validate(too_big.json())["issue"][0]["code"] == "too-costly"
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == FHIR_JSON
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    assert validate(unauthenticated.json())["issue"][0]["code"] == "security"
    # The 422 every operation documents: even metadata refuses a control character.
    assert control_character.status_code == 422
    assert control_character.headers["content-type"] == FHIR_JSON
    assert validate(control_character.json())["issue"][0]["code"] == "invalid"


async def test_a_write_is_an_operation_outcome_405(clinic: Clinic) -> None:
    response = await clinic.post(f"{PREFIX}/Patient", json={"resourceType": "Patient"})

    assert response.status_code == 405
    assert response.headers["content-type"] == FHIR_JSON
    assert validate(response.json())["issue"][0]["code"] == "not-supported"


async def test_a_429_keeps_its_rate_limit_headers(
    clinic: Clinic, make_app: MakeApp, wall: HandClock
) -> None:
    limited = make_app(rate_limit_per_minute=1)
    async with client_of(limited) as http:
        assert (await http.get(f"{PREFIX}/Patient", headers=clinic.headers)).status_code == 200
        refused = await http.get(f"{PREFIX}/Patient", headers=clinic.headers)

    assert refused.status_code == 429
    assert refused.headers["content-type"] == FHIR_JSON
    assert int(refused.headers["retry-after"]) > 0
    assert "ratelimit" in refused.headers
    assert "ratelimit-policy" in refused.headers
    assert validate(refused.json())["issue"][0]["code"] == "throttled"
