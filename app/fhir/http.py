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
    "The error: `issue[].code` is security (401), forbidden (403), not-found (404) or invalid "
    "(400/422); `issue[].details.coding[].code` is the problem code of the rest of the API",
)
# OperationOutcome is not RFC 9457 problem+json, so the 4xx are documented as one `default`
# response in the FHIR media type instead of per status.
ERRORS: dict[int | str, dict[str, Any]] = {
    "default": {
        "description": "An OperationOutcome with the error's HTTP status (401, 403, 404, 400).",
        "content": {FHIR_JSON: {"schema": OUTCOME_SCHEMA}},
    }
}


def documented(resource_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route answering one FHIR resource (a Bundle for searches)."""
    return {
        200: {
            "description": description,
            "content": {FHIR_JSON: {"schema": _schema(resource_type, description)}},
        }
    }
