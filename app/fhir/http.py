"""The FHIR media type on responses, and how the routes document their bodies in OpenAPI."""

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from app.common.urls import public_base
from app.fhir.outcome import FHIR_JSON

FHIR_SPEC = "hl7.org/fhir/R4"


class FhirResponse(JSONResponse):
    """`application/fhir+json`, never cached: the bodies are patient data."""

    media_type = FHIR_JSON

    def __init__(
        self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        headers = {"Cache-Control": "no-store", **(headers or {})}
        super().__init__(content, status_code=status_code, headers=headers)


def base_url(request: Request) -> str:
    """The FHIR base of this server, e.g. `https://host/fhir/R4`: on KAP_PUBLIC_URL when set,
    so a forged Host header cannot point a client's `fullUrl`s elsewhere."""
    return f"{public_base(request)}/fhir/R4"


def _schema(resource_type: str, description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"{description} ({FHIR_SPEC}/{resource_type.lower()}.html).",
        "properties": {"resourceType": {"type": "string", "enum": [resource_type]}},
        "required": ["resourceType"],
        "additionalProperties": True,
    }


OUTCOME_SCHEMA = _schema(
    "OperationOutcome",
    "The error: `issue[].code` is security (401), forbidden (403), not-found (404), invalid "
    "(400/422) or throttled (429); `issue[].details.coding[].code` is the problem code of the "
    "rest of the API",
)
ERROR_DESCRIPTIONS = {
    400: "A search value the server cannot read, a missing required parameter, or an unknown "
    "parameter under `Prefer: handling=strict`",
    401: "No or a bad bearer token (with `WWW-Authenticate: Bearer`)",
    403: "The caller's role may not read this",
    404: "No such resource in the caller's clinic",
    422: "A request the server could not read: a query string with a control character, or for "
    "a search a `_cursor` that is malformed or belongs to another list",
    429: "Too many requests (with `Retry-After` and the RateLimit headers)",
}
RATE_LIMIT_HEADERS = {
    name: {"schema": {"type": "string"}, "description": text}
    for name, text in (
        ("Retry-After", "Seconds to wait before retrying."),
        ("RateLimit-Policy", "The quota: requests per window."),
        ("RateLimit", "What is left of it and when the window resets."),
    )
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these error statuses, each an OperationOutcome (never problem+json:
    under /fhir/R4 every failure, middleware ones included, is rendered as one)."""
    found: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {FHIR_JSON: {"schema": OUTCOME_SCHEMA}},
        }
        if status == 429:
            response["headers"] = RATE_LIMIT_HEADERS
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        found[status] = response
    return found


READ_ERRORS = (401, 403, 404, 422, 429)
SEARCH_ERRORS = (400, 401, 403, 422, 429)


def documented(
    resource_type: str, description: str, failures: tuple[int, ...] = READ_ERRORS
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route answering one FHIR resource (a Bundle for searches)."""
    return {
        200: {
            "description": description,
            "content": {FHIR_JSON: {"schema": _schema(resource_type, description)}},
        },
        **errors(*failures),
    }


def document_fhir_validation(schema: dict[str, Any]) -> None:
    """FastAPI adds a plain-JSON 422 to every route with parameters; under /fhir/ that failure
    is an OperationOutcome (the FHIR routes document their own 422 where they have one)."""
    for path, path_item in schema.get("paths", {}).items():
        if not path.startswith("/fhir/"):
            continue
        for operation in path_item.values():
            response = operation.get("responses", {}).get("422")
            if response is not None:
                response["description"] = ERROR_DESCRIPTIONS[422]
                response["content"] = {FHIR_JSON: {"schema": OUTCOME_SCHEMA}}
