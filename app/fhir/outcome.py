"""Errors under /fhir/ as FHIR OperationOutcome, with the status and headers of the problem.

Pure and free of app imports: `app.errors` calls it from its handlers, so every failure (our
AppErrors, request validation, unknown paths, 500s) is rendered the same way under /fhir/.
"""

import json
from typing import Any

from starlette.responses import JSONResponse

FHIR_JSON = "application/fhir+json"
FHIR_PATH_PREFIX = "/fhir/"
PROBLEM_CODE_SYSTEM = "https://kap-journey.dev/problems"

# HTTP status -> FHIR issue-type code (hl7.org/fhir/R4/valueset-issue-type.html).
ISSUE_CODES = {
    400: "invalid",
    401: "security",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    422: "invalid",
    429: "throttled",
    503: "transient",
}
DROPPED_HEADERS = {"content-length", "content-type"}


def is_fhir_path(path: str) -> bool:
    return path.startswith(FHIR_PATH_PREFIX)


def issue_code(status: int) -> str:
    if status in ISSUE_CODES:
        return ISSUE_CODES[status]
    return "invalid" if status < 500 else "exception"


def outcome_body(status: int, problem: dict[str, Any]) -> dict[str, Any]:
    """The OperationOutcome for a problem+json body: one issue, or one per validation error."""
    details = {
        "coding": [{"system": PROBLEM_CODE_SYSTEM, "code": str(problem.get("code", "error"))}],
        "text": str(problem.get("title", "")),
    }
    errors = problem.get("errors") or []
    messages = [
        f"{'.'.join(str(part) for part in error.get('loc', []))}: {error.get('msg', '')}"
        for error in errors
    ] or [str(problem.get("detail", ""))]
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": issue_code(status),
                "details": details,
                "diagnostics": message,
            }
            for message in messages
        ],
    }


def as_operation_outcome(response: JSONResponse) -> JSONResponse:
    """The same failure as `response` (a problem+json), as an OperationOutcome."""
    problem = json.loads(bytes(response.body))
    headers = {k: v for k, v in response.headers.items() if k.lower() not in DROPPED_HEADERS}
    headers["Cache-Control"] = "no-store"
    return JSONResponse(
        outcome_body(response.status_code, problem),
        status_code=response.status_code,
        headers=headers,
        media_type=FHIR_JSON,
    )
