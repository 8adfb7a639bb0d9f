"""The AppError tree and the handlers that turn every failure into RFC 9457 problem+json."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.common.validation_messages import message_for
from app.fhir.outcome import as_operation_outcome, is_fhir_path

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://kap-journey.dev/problems/"

log = logging.getLogger(__name__)


class AppError(Exception):
    """An expected failure with a stable code; subclasses fix status, code and title."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Not allowed for your role"


class ValidationFailed(AppError):
    """A 422 raised by a service rule; `errors` mirrors request-validation errors."""

    status, code, title = 422, "validation_error", "The request is not valid"

    def __init__(self, detail: str, *, loc: Sequence[str | int] = ("body",), kind: str) -> None:
        super().__init__(
            detail, extra={"errors": [{"loc": list(loc), "msg": detail, "type": kind}]}
        )


class InvalidCursor(AppError):
    status, code, title = 422, "invalid_cursor", "The cursor is not valid"


class Conflict(AppError):
    status, code, title = 409, "conflict", "The request conflicts with the current state"


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "That action is not possible in the current status"


class ScheduleConflict(Conflict):
    code, title = "schedule_conflict", "The client already has a session at that time"


class PreparationRequired(Conflict):
    code, title = "preparation_required", "A preparation session is required first"


class VersionConflict(AppError):
    status, code, title = 412, "version_conflict", "The resource has changed"


class ConcurrentUpdate(Conflict):
    code, title = "version_conflict", "The resource was changed by another request"


class IdempotencyKeyReused(AppError):
    status, code, title = (
        422,
        "idempotency_key_reused",
        "The Idempotency-Key was used with a different request",
    )


class IdempotencyKeyInProgress(Conflict):
    code, title = "idempotency_key_in_progress", "A request with this Idempotency-Key is running"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "The body's media type is not accepted"


class DatabaseUnavailable(AppError):
    status, code, title = 503, "database_unavailable", "The database is not reachable"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """One problem+json response."""
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def responses_for(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries generated from the error classes a route can raise."""
    out: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = out.setdefault(
            error.status,
            {"description": "", "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}},
        )
        entry["description"] = " / ".join(filter(None, [entry["description"], error.code]))
    return out


PROBLEM_REF = "#/components/schemas/Problem"


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the offending input back: it may be PHI.
    return [
        {
            "loc": list(err.get("loc", ())),
            "msg": message_for(err.get("type", ""), err.get("msg", "")),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem(
        exc.status, exc.code, exc.title, exc.detail, headers=exc.headers or None, **exc.extra
    )


async def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return problem(
        422,
        "validation_error",
        "The request is not valid",
        f"{where}: {first['msg']}" if where else str(first["msg"]),
        errors=errors,
    )


def _undecodable_body(exc: StarletteHTTPException) -> bool:
    """FastAPI's 400 for a JSON body that is not UTF-8 (malformed JSON it already makes a 422)."""
    return exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError)


async def _http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if _undecodable_body(exc):
        error = ValidationFailed("The body is not valid UTF-8 JSON.", kind="json_invalid")
        return problem(error.status, error.code, error.title, error.detail, **error.extra)
    phrase = HTTPStatus(exc.status_code).phrase
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    return problem(exc.status_code, code, phrase, detail, headers=dict(exc.headers or {}))


async def _stale_data(request: Request, exc: Exception) -> JSONResponse:
    # Another request changed the row between our read and our write: with If-Match that is
    # exactly a failed precondition.
    error = VersionConflict() if request.headers.get("if-match") else ConcurrentUpdate()
    return problem(error.status, error.code, error.title, error.detail)


# PostgreSQL going away mid-request: connection exceptions (class 08), shut down by an operator or
# a crash, starting up or shutting down (57P01-57P03), out of connection slots (53300).
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def _database_unavailable(exc: DBAPIError) -> bool:
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    return (
        isinstance(exc, OperationalError)
        or exc.connection_invalidated
        or sqlstate.startswith("08")
        or sqlstate in UNAVAILABLE_SQLSTATES
    )


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DBAPIError) and _database_unavailable(exc):
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        error = DatabaseUnavailable()
        return problem(error.status, error.code, error.title, error.detail)
    return await _unexpected(_, exc)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # Log the type only: exception text can carry SQL parameters, i.e. PHI.
    log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
    return problem(500, "internal_error", "Internal server error", "An unexpected error occurred.")


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _fhir_aware(handler: Handler) -> Handler:
    """Under /fhir/ the same failure (status, headers) is a FHIR OperationOutcome."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        response = await handler(request, exc)
        return as_operation_outcome(response) if is_fhir_path(request.url.path) else response

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception type to its problem+json rendering (OperationOutcome under /fhir/)."""
    app.add_exception_handler(AppError, _fhir_aware(_app_error))
    app.add_exception_handler(RequestValidationError, _fhir_aware(_request_validation))
    app.add_exception_handler(StarletteHTTPException, _fhir_aware(_http_exception))
    app.add_exception_handler(StaleDataError, _fhir_aware(_stale_data))
    app.add_exception_handler(DBAPIError, _fhir_aware(_database_error))
    app.add_exception_handler(Exception, _fhir_aware(_unexpected))


def invalid_reference(field: str, what: str) -> ValidationFailed:
    """A 422 for a body field naming something that does not exist in the caller's clinic."""
    return ValidationFailed(
        f"{field} does not name {what} in this clinic.",
        loc=("body", field),
        kind="invalid_reference",
    )
