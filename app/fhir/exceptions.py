"""The failures of the FHIR API; rendered as OperationOutcome under /fhir/ (see outcome.py)."""

from app.errors import AppError, NotFound


class PatientNotFound(NotFound):
    title = "Patient not found"


class ConsentNotFound(NotFound):
    title = "Consent not found"


class SearchParameterMissing(AppError):
    """FHIR answers a search it cannot process with 400 (http.html#search)."""

    status, code, title = 400, "missing_search_parameter", "A required search parameter is missing"
