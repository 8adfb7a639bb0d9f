"""Which failed requests leave an audit row, and with what outcome.

A request that fails leaves no row, except a denied one (401, 403, 404) and a refused write on a
PHI resource (another 4xx), each recorded with its status and no other detail (the unit of work
writes it in a transaction of its own: app/unit_of_work.py).
"""

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.audit.models import Outcome
from app.errors import AppError

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DENIALS = {401: Outcome.unauthenticated, 403: Outcome.denied, 404: Outcome.not_found}
# Resources that hold PHI: a write to one that is refused (409, 412, 422, ...) is audited too.
PHI_RESOURCES = frozenset(
    {
        "client",
        "session",
        "assessment",
        "assessment_request",
        "consent",
        "safety_review",
        "screening",
        "unmatched_booking",
    }
)
GONE = 410
# A throttled write was not looked at, so there is nothing about it to audit (and floods are not).
NOT_REFUSALS = frozenset({429})


def status_of(error: BaseException) -> int | None:
    """The status an error is answered with, if it is an expected one."""
    if isinstance(error, AppError):
        return error.status
    if isinstance(error, RequestValidationError):
        return 422
    if isinstance(error, HTTPException):
        return error.status_code
    return None


def audited_failure(
    method: str, resource_type: str, error: BaseException
) -> tuple[Outcome, int] | None:
    """The outcome to audit a failed request with, if it is one that is audited."""
    status = status_of(error)
    if status is None:
        return None
    if status in DENIALS:
        return DENIALS[status], status
    if status == GONE and resource_type in PHI_RESOURCES:
        return Outcome.refused, status  # a used, expired or revoked self-report link, even read
    refused_write = (
        method not in READ_METHODS
        and resource_type in PHI_RESOURCES
        and 400 <= status < 500
        and status not in NOT_REFUSALS
    )
    return (Outcome.refused, status) if refused_write else None
