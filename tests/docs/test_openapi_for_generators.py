"""What app/openapi.py adds to FastAPI's document, checked on the document itself: errors derived
per route, request defaults in words, response fields that are always present marked required,
nullable fields without repeated titles, and the servers entry."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.auth.dependencies import Admin
from app.common.schemas import OutputModel
from app.config import Settings
from app.errors import PROBLEM_JSON, PROBLEM_REF
from app.main import create_app
from app.security.rate_limit import EXEMPT_PATHS

NULL = {"type": "null"}
PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
SESSION_CREATES = ("PreparationSessionCreate", "KetamineSessionCreate", "IntegrationSessionCreate")


def app_of(tmp_path: Path, **settings: Any) -> FastAPI:
    """An app on a database file it never opens: building the document does no I/O."""
    return create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", **settings))


@pytest.fixture
def spec(tmp_path: Path) -> dict[str, Any]:
    return app_of(tmp_path).openapi()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_documents_the_errors_its_route_can_answer(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        if path.startswith("/fhir/"):
            continue  # OperationOutcome errors, documented by app/fhir
        responses = operation["responses"]
        where = f"{method} {path}"
        assert responses["422"]["content"] == PROBLEM, where  # a NUL in any query: 422
        if operation.get("security"):
            assert "401" in responses, where
        if "{" in path:
            assert "404" in responses, where
        assert ("429" in responses) == (path not in EXEMPT_PATHS), where


def test_a_route_that_documents_nothing_gets_its_errors_derived(tmp_path: Path) -> None:
    app = app_of(tmp_path)

    @app.get("/api/v1/probes/{probe_id}")
    async def get_probe(probe_id: str, _: Admin) -> dict[str, str]:
        """A route declaring no responses: admin only, with a path parameter."""
        return {"id": probe_id}

    responses = app.openapi()["paths"]["/api/v1/probes/{probe_id}"]["get"]["responses"]
    assert {"401", "403", "404", "422", "429"} <= responses.keys()
    assert "413" not in responses  # a GET sends no body
    assert (responses["403"]["description"], responses["403"]["content"]) == ("forbidden", PROBLEM)
    limited = responses["429"]["headers"]
    assert {"RateLimit-Policy", "RateLimit", "Retry-After"} <= limited.keys()
    assert "Retry-After" not in responses["200"]["headers"]


def test_metrics_documents_its_protection_and_no_rate_limit(spec: dict[str, Any]) -> None:
    metrics = spec["paths"]["/metrics"]["get"]
    assert metrics["security"] == [{"MetricsToken": []}]
    assert {"401", "404"} <= metrics["responses"].keys()
    assert "429" not in metrics["responses"]
    assert "headers" not in metrics["responses"]["200"]


def test_request_defaults_leave_the_field_optional_and_say_the_default(
    spec: dict[str, Any],
) -> None:
    schemas = spec["components"]["schemas"]
    for name, field in [
        *((name, "location") for name in SESSION_CREATES),
        ("EndpointCreate", "enabled"),
    ]:
        schema = schemas[name]
        assert field not in schema["required"], name
        assert "default" not in schema["properties"][field], name
        assert "Default when left out:" in schema["properties"][field]["description"], name
    assert "`true`" in schemas["EndpointCreate"]["properties"]["enabled"]["description"]
    assert (
        '`"in_person"`' in schemas["KetamineSessionCreate"]["properties"]["location"]["description"]
    )


def test_response_fields_are_required_unless_a_role_may_not_see_them(spec: dict[str, Any]) -> None:
    dose = spec["components"]["schemas"]["KetamineSessionRead"]
    assert {"id", "kind", "location", "status", "version"} <= set(dose["required"])
    for clinical in ("notes", "vitals", "dose_mg", "safety_flags"):
        assert clinical not in dose["required"], clinical  # absent for the scheduler
        assert "default" not in dose["properties"][clinical], clinical


def _output_models(cls: type[OutputModel]) -> Iterator[type[OutputModel]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _output_models(sub)


def _referenced(node: Any, schemas: dict[str, Any], found: set[str]) -> set[str]:
    for part in _nodes(node):
        name = part.get("$ref", "").rsplit("/", 1)[-1]
        if name in schemas and name not in found:
            found.add(name)
            _referenced(schemas[name], schemas, found)
    return found


def test_response_schemas_mark_every_field_they_always_send_required(
    spec: dict[str, Any],
) -> None:
    """Generated clients type a required field as present: only what a role may not see (an
    OutputModel's clinical fields) and a problem's `errors` (on 422 only) may be left out."""
    schemas = spec["components"]["schemas"]
    ops = list(operations(spec))
    answers = _referenced([op["responses"] for _, _, op in ops], schemas, set())
    requests = _referenced([op.get("requestBody", {}) for _, _, op in ops], schemas, set())
    may_be_absent = {model.__name__: model.clinical_fields for model in _output_models(OutputModel)}
    may_be_absent["Problem"] = frozenset({"errors"})
    optional = {
        name: sorted(
            set(schemas[name].get("properties", {})) - set(schemas[name].get("required", []))
        )
        for name in answers - requests
    }
    wrong = {
        name: [field for field in fields if field not in may_be_absent.get(name, ())]
        for name, fields in optional.items()
    }
    assert {name: fields for name, fields in wrong.items() if fields} == {}


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def test_nullable_schemas_give_redoc_one_title(spec: dict[str, Any]) -> None:
    """ReDoc once showed "Preferred Name (string) or Preferred Name (null) (Preferred Name)"."""
    nodes = list(_nodes(spec))
    assert [node for node in nodes if NULL in node.get("anyOf", []) and "title" in node] == []
    merged = [node for node in nodes if isinstance(node.get("type"), list)]
    assert len(merged) > 50
    assert all(node["type"][1:] == ["null"] for node in merged)
    name = spec["components"]["schemas"]["ClientCreate"]["properties"]["preferred_name"]
    assert name["type"] == ["string", "null"]
    assert (name["title"], name["maxLength"]) == ("Preferred Name", 200)
    assert "pattern" in name  # the control-character rule is kept
    external_ref = spec["components"]["schemas"]["KetamineSessionRead"]["properties"][
        "external_ref"
    ]
    assert NULL in external_ref["anyOf"]  # a $ref cannot take null into its type
    assert "title" not in external_ref


def test_parameters_are_never_null(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            assert NULL not in schema.get("anyOf", []), (method, path, parameter["name"])
            assert schema.get("type") != "null", (method, path, parameter["name"])
    clients = {
        p["name"]: p["schema"] for p in spec["paths"]["/api/v1/clients"]["get"]["parameters"]
    }
    assert clients["primary_clinician_id"]["format"] == "uuid"


def test_servers_name_the_public_url_else_this_server(tmp_path: Path) -> None:
    public = app_of(tmp_path, public_url="https://kap.cedar.example/journey").openapi()
    assert [server["url"] for server in public["servers"]] == ["https://kap.cedar.example/journey"]
    assert public["servers"][0]["x-internal"] is False
    unset = app_of(tmp_path).openapi()
    assert [server["url"] for server in unset["servers"]] == ["/"]


def test_summaries_are_in_sentence_case(spec: dict[str, Any]) -> None:
    """ReDoc's sidebar and generated clients' docstrings read them: "Create API key", not
    FastAPI's "Create Api Key"."""
    title_case = [
        operation["summary"]
        for _, _, operation in operations(spec)
        if operation["summary"] == operation["operationId"].replace("_", " ").title()
    ]
    assert title_case == []
    assert spec["paths"]["/api/v1/api-keys"]["post"]["summary"] == "Create API key"
