"""The OpenAPI document: FastAPI's own, finished for readers and for client generators.

FastAPI already writes request schemas in validation mode and response schemas in
serialization mode (`separate_input_output_schemas`); the steps below fix what generators and
linters still read wrongly:

- errors: which of 401, 403, 404, 413, 422 and 429 an operation can answer is derived from the
  route (its security, role check, path parameters, body, rate limit), so a route need not
  list them and none forgets one; a route lists only the errors of its own rules. FHIR
  operations (`/fhir/R4`) document their OperationOutcome errors themselves and are left as
  they are (their answers still list the rate limit's fields).
- request defaults: `openapi-typescript` reads a `default` as "always present" wherever the
  schema is a component, so a defaulted request field became mandatory in TypeScript. Request
  schemas say their default in the field's description instead; the field stays optional.
- nullable fields: `anyOf: [X, null]` with a title made ReDoc print "Name (string) or Name
  (null) (Name)"; a plain X takes `null` into its `type` instead ("string or null (Name)"),
  any other loses the title. A query, path or header parameter is never null, so its null
  branch goes.
- servers: `KAP_PUBLIC_URL` where it is set, else this server (a relative URL).
- summaries: FastAPI's default title case ("Create Api Key") in sentence case ("Create API key").
"""

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from app.auth.dependencies import require_roles
from app.common.media_types import document_unsupported_media_type
from app.errors import PROBLEM_JSON, PROBLEM_REF
from app.fhir.http import document_fhir_validation
from app.fhir.outcome import is_fhir_path
from app.security.rate_limit import EXEMPT_PATHS

BODY_METHODS = {"post", "put", "patch"}
PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
NULL = {"type": "null"}


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["https://kap-journey.dev/problems/schedule_conflict"])
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable, machine-readable error code.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="On 422: [{loc, msg, type}]."
    )


# The rate limit's fields (draft-ietf-httpapi-ratelimit-headers), as `components.headers`.
RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": 'The quota that counted this request, e.g. `"caller";q=600;w=60`: '
        "`caller` per verified staff member, `address` per client address, `failed-auth` per "
        "address for failed authentications. On every 429; on other answers as the API "
        "description says.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of that quota, e.g. `"caller";r=0;t=42`: `r` requests '
        "now, `t` seconds until more frees up. Sent with `RateLimit-Policy`.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Whole seconds until a request is admitted again.",
        "required": True,
        "schema": {"type": "integer"},
    },
}
LIMITED = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS}


def openapi_document(app: FastAPI, tags: list[dict[str, Any]]) -> dict[str, Any]:
    """The document `/openapi.json` serves, built once per app."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=tags,
            servers=_servers(app),
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        _document_validation_as_problem(schema, schemas)
        document_fhir_validation(schema)
        document_unsupported_media_type(schema)
        _sentence_summaries(schema)
        _document_errors(app, schema)
        _document_rate_limit_fields(app, schema)
        _state_request_defaults_in_words(schema)
        _parameters_are_never_null(schema)
        _readable_nullables(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _servers(app: FastAPI) -> list[dict[str, Any]]:
    public_url: str | None = getattr(app.state.settings, "public_url", None)
    if public_url:
        server = {"url": public_url, "description": "This service (KAP_PUBLIC_URL)."}
    else:
        server = {"url": "/", "description": "The server this document was read from."}
    # Clinics' own systems and apps call it: an API for use outside the deployment.
    return [{**server, "x-internal": False}]


def _sentence_summaries(schema: dict[str, Any]) -> None:
    """An operation without a summary of its own gets FastAPI's, from its name in title case
    ("Create Api Key"); say it in sentence case instead ("Create API key")."""
    for _, _, operation in _operations(schema):
        name = operation.get("operationId", "")
        if name and operation.get("summary") == name.replace("_", " ").title():
            words = name.replace("_", " ").replace("api key", "API key")
            operation["summary"] = words[:1].upper() + words[1:]


def _document_validation_as_problem(schema: dict[str, Any], schemas: dict[str, Any]) -> None:
    """FastAPI documents its 422 as plain JSON; ours is problem+json, so say so (under /fhir/
    an OperationOutcome, which the FHIR routes document themselves)."""
    for path, _, operation in _operations(schema):
        if is_fhir_path(path):
            continue
        response = operation.get("responses", {}).get("422")
        if response is not None and PROBLEM_JSON not in response.get("content", {}):
            response["description"] = "validation_error"
            response["content"] = PROBLEM_CONTENT
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def errors_of(
    path: str, method: str, dependant: Dependant, operation: dict[str, Any]
) -> dict[str, str]:
    """The statuses (with their codes) this operation can answer whatever it does.

    Every route refuses a NUL in any query parameter (422), so every operation can answer 422.
    """
    errors = {"422": "validation_error"}
    if operation.get("security"):
        errors["401"] = "unauthorized"
    if any(_is_role_check(sub) for sub in _dependants(dependant)):
        errors["403"] = "forbidden"
    if "{" in path:
        errors["404"] = "not_found"
    if method in BODY_METHODS:
        errors["413"] = "payload_too_large"
    if path not in EXEMPT_PATHS:
        errors["429"] = "rate_limited"
    return errors


def _document_errors(app: FastAPI, schema: dict[str, Any]) -> None:
    """Add the derived errors an operation does not document yet (a route's own entry, with
    the codes of its own errors, is kept)."""
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = route.path_format or ""
        if is_fhir_path(path):  # OperationOutcome errors, documented in app/fhir
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, code in errors_of(path, method.lower(), route.dependant, operation).items():
                responses.setdefault(status, {"description": code, "content": PROBLEM_CONTENT})
            operation["responses"] = dict(sorted(responses.items()))


def _document_rate_limit_fields(app: FastAPI, schema: dict[str, Any]) -> None:
    """Every answer of a rate-limited operation may carry the limit's fields; a 429 always
    does, with Retry-After. FHIR operations too: the fields are the same whatever the body."""
    schema["components"]["headers"] = RATE_LIMIT_HEADERS
    for path, _, operation in _operations(schema):
        if path in EXEMPT_PATHS:
            continue
        for status, response in operation.get("responses", {}).items():
            if status.startswith(("2", "4")):
                names = LIMITED if status == "429" else _without(LIMITED, "Retry-After")
                headers = {**response.get("headers", {}), **names}
                operation["responses"][status] = {**response, "headers": headers}


def _without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in mapping.items() if name != key}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def _is_role_check(dependant: Dependant) -> bool:
    qualname = getattr(dependant.call, "__qualname__", "")
    return qualname.startswith(f"{require_roles.__qualname__}.<locals>.")


def _state_request_defaults_in_words(schema: dict[str, Any]) -> None:
    """A request field with a default: say the default in its description, drop `default`.

    Only schemas no response uses are changed; a response's defaults stay (they are present).
    """
    schemas = schema["components"]["schemas"]
    request_only = _reachable(_request_roots(schema), schemas) - _reachable(
        _response_roots(schema), schemas
    )
    for name in request_only:
        for field in schemas[name].get("properties", {}).values():
            if "default" in field:
                default = json.dumps(field.pop("default"))
                said = f"Default when left out: `{default}`."
                field["description"] = (
                    f"{field['description']} {said}" if "description" in field else said
                )


def _request_roots(schema: dict[str, Any]) -> list[Any]:
    return [operation.get("requestBody", {}) for _, _, operation in _operations(schema)]


def _response_roots(schema: dict[str, Any]) -> list[Any]:
    return [operation.get("responses", {}) for _, _, operation in _operations(schema)]


def _reachable(roots: list[Any], schemas: dict[str, Any]) -> set[str]:
    """The names of the component schemas these document parts refer to, transitively."""
    found: set[str] = set()
    pending = list(roots)
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in found and name in schemas:
                    found.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _parameters_are_never_null(schema: dict[str, Any]) -> None:
    """A query, path or header parameter is either sent or not: `X or null` is just X."""
    for _, _, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            inner = parameter.get("schema", {})
            variants = inner.get("anyOf")
            if not variants or NULL not in variants:
                continue
            rest = [variant for variant in variants if variant != NULL]
            outer = {key: value for key, value in inner.items() if key != "anyOf"}
            if len(rest) == 1:
                parameter["schema"] = {**rest[0], **outer}
            else:
                parameter["schema"] = {**outer, "anyOf": rest}


def _readable_nullables(node: Any) -> None:
    """ReDoc names each branch of `anyOf` after the title around it ("Name (string) or Name
    (null) (Name)"). `X or null` with a plain X becomes X with `null` among its types (ReDoc:
    "string or null (Name)", with X's limits shown); any other `anyOf` with a null branch loses
    its title ("Location (string) or null")."""
    if isinstance(node, dict):
        variants = node.get("anyOf")
        if isinstance(variants, list) and NULL in variants:
            rest = [variant for variant in variants if variant != NULL]
            if len(rest) == 1 and _plain(rest[0]):
                outer = {key: value for key, value in node.items() if key != "anyOf"}
                node.clear()
                node.update({**rest[0], **outer, "type": [rest[0]["type"], "null"]})
            else:
                node.pop("title", None)
        for value in node.values():
            _readable_nullables(value)
    elif isinstance(node, list):
        for value in node:
            _readable_nullables(value)


def _plain(schema: Any) -> bool:
    """One type, and no keyword that would also have to admit null (enum, const, a $ref)."""
    composite = {"$ref", "enum", "const", "anyOf", "oneOf", "allOf", "not"}
    return (
        isinstance(schema, dict)
        and isinstance(schema.get("type"), str)
        and not (composite & schema.keys())
    )


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            if isinstance(operation, dict) and method != "parameters":
                yield path, method, operation
