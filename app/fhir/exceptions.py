"""The failures of the FHIR API; rendered as OperationOutcome under /fhir/ (see outcome.py)."""

from app.errors import AppError, NotFound


class PatientNotFound(NotFound):
    title = "Patient not found"


class ConsentNotFound(NotFound):
    title = "Consent not found"


class SearchParameterMissing(AppError):
    """FHIR answers a search it cannot process with 400 (http.html#search)."""

    status, code, title = 400, "missing_search_parameter", "A required search parameter is missing"


class ResourceNotFound(NotFound):
    title = "Resource not found"


class InvalidSearch(AppError):
    """A search value the server cannot read: FHIR answers 400 (search.html#errors)."""

    status, code, title = 400, "invalid_search", "A search parameter has an invalid value"


class UnknownSearchParameter(AppError):
    """An unknown parameter under `Prefer: handling=strict` (http.html#search)."""

    status, code, title = 400, "unknown_search_parameter", "Unknown search parameter"


class SearchForbidden(AppError):
    """A search on a field the caller's role may not see (a scheduler's `birthdate`)."""

    status, code, title = 403, "forbidden", "This search parameter needs a clinical role"
