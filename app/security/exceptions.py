"""The failures the security middleware answers with, rendered like every other AppError."""

from fastapi.responses import JSONResponse

from app.errors import AppError, problem


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
