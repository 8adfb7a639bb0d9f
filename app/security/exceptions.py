"""The failures the security middleware answers with, rendered like every other AppError."""

from fastapi.responses import JSONResponse, Response
from starlette.types import Scope

from app.errors import AppError, problem
from app.fhir.outcome import as_operation_outcome, is_fhir_path
from app.self_report.rendering import error_page, is_page_path


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "The request body is too large"


class RateLimited(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


def render(error: AppError) -> JSONResponse:
    """The problem+json response for an error raised outside FastAPI's exception handlers."""
    return problem(
        error.status,
        error.code,
        error.title,
        error.detail,
        headers=error.headers or None,
        **error.extra,
    )


def respond(scope: Scope, error: AppError) -> Response:
    """`render`, as an OperationOutcome under /fhir/ like the app's own handlers answer there,
    and as a page on the client's self-report pages (/r/), which a person reads."""
    if is_page_path(scope["path"]):
        return error_page(error)
    response = render(error)
    return as_operation_outcome(response) if is_fhir_path(scope["path"]) else response
