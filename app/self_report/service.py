"""Self-report links: created and revoked by clinicians, opened and completed by the client.

The token is `kapsr_<prefix>_<secret>` (app/common/tokens.py, as API keys and feed tokens):
the prefix finds the row, the secret is checked against its hash. A link records one
assessment at most: the submission locks the row, and a used, expired or revoked link is gone.
The answers are scored and stored by the same code as staff entry
(app.assessments.service.store), so a positive PHQ-9 item 9 opens a safety review here too.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments import service as assessments
from app.assessments.models import Assessment, AssessmentSource
from app.assessments.schemas import AssessmentCreate
from app.assessments.scoring import ITEM_COUNT, ITEM_MAX, Instrument
from app.audit.trail import note_change, note_read
from app.auth.principal import Principal
from app.clients.models import Client
from app.common.pagination import PageParams
from app.common.tokens import TokenFormat, secret_matches
from app.errors import AppError, InvalidTransition, NotFound, invalid_reference
from app.self_report import repository
from app.self_report.events import emit_completed
from app.self_report.models import AssessmentRequest, RequestStatus
from app.self_report.repository import LinkHolder
from app.self_report.schemas import AssessmentRequestCreate
from app.sessions import repository as sessions_repository

LINK_TOKEN = TokenFormat("kapsr")
MAX_TOKEN_LENGTH = 200
CREATED_FIELDS = ["client_id", "expires_at", "instrument", "session_id"]


class AssessmentRequestNotFound(NotFound):
    title = "Assessment request not found"


class LinkNotFound(NotFound):
    """Every token that names no link: the same answer whatever part of it was wrong."""

    code, title = "link_not_found", "This link does not exist"

    def __init__(self) -> None:
        super().__init__("No form at this address. Check the link you were sent.")


class LinkGone(AppError):
    """A real link that no longer opens: used, expired or revoked."""

    status, code, title = 410, "link_gone", "This link can no longer be used"

    def __init__(self, status: RequestStatus) -> None:
        super().__init__(f"The link is {status.value}.", extra={"link_status": status.value})
        self.link_status = status


class RequestNotPending(InvalidTransition):
    title = "Only a pending assessment request can be revoked"


@dataclass(frozen=True)
class ItemProblem:
    number: int  # 1-based, as the form names it
    message: str


class AnswersInvalid(AppError):
    """A submitted form with a missing or out-of-range item; nothing is recorded."""

    status, code, title = 422, "validation_error", "Some answers are missing or not valid"

    def __init__(self, problems: Sequence[ItemProblem]) -> None:
        names = ", ".join(f"item{p.number}" for p in problems)
        errors = [
            {"loc": ["body", f"item{p.number}"], "msg": p.message, "type": "invalid_item"}
            for p in problems
        ]
        super().__init__(f"Invalid or missing: {names}.", extra={"errors": errors})
        self.problems = tuple(problems)


async def create(
    db: AsyncSession,
    principal: Principal,
    client: Client,
    body: AssessmentRequestCreate,
    now: datetime,
) -> tuple[AssessmentRequest, str]:
    """A new pending link; returns the row and the token, which is never stored."""
    if body.session_id is not None:
        session = await sessions_repository.get(db, principal.clinic_id, body.session_id)
        if session is None or session.client_id != client.id:
            raise invalid_reference("session_id", "a session of this client")
    generated = LINK_TOKEN.generate()
    request = AssessmentRequest(
        clinic_id=principal.clinic_id,
        client_id=client.id,
        session_id=body.session_id,
        instrument=body.instrument.value,
        prefix=generated.prefix,
        secret_hash=generated.secret_hash,
        created_at=now,
        created_by=principal.staff_id,
        expires_at=now + timedelta(hours=body.expires_in_hours),
    )
    db.add(request)
    await db.flush()
    note_change("assessment_request", request.id, CREATED_FIELDS)
    return request, generated.plaintext


async def get_one(
    db: AsyncSession, principal: Principal, client: Client, request_id: uuid.UUID
) -> AssessmentRequest:
    request = await repository.get(db, principal.clinic_id, client.id, request_id)
    if request is None:
        raise AssessmentRequestNotFound(f"No assessment request {request_id} for this client.")
    return request


async def list_page(
    db: AsyncSession, principal: Principal, client: Client, page: PageParams
) -> Sequence[AssessmentRequest]:
    return await repository.list_page(db, principal.clinic_id, client.id, page)


async def revoke(
    db: AsyncSession, principal: Principal, request: AssessmentRequest, now: datetime
) -> AssessmentRequest:
    """Close a pending link for good; revoking a revoked one changes nothing, while a
    completed or expired one is 409 (there is nothing left to stop)."""
    status = request.status_at(now)
    if status is RequestStatus.revoked:
        return request
    if status is not RequestStatus.pending:
        raise RequestNotPending(f"The assessment request is {status.value}.")
    request.revoked_at, request.revoked_by = now, principal.staff_id
    await db.flush()
    note_change("assessment_request", request.id, ["revoked_at", "revoked_by"])
    return request


async def find_link(db: AsyncSession, token: str, *, for_update: bool = False) -> LinkHolder:
    """The link a token names, whatever its status; LinkNotFound for anything else."""
    parts = LINK_TOKEN.split(token) if len(token) <= MAX_TOKEN_LENGTH else None
    holder = await repository.by_prefix(db, parts[0], for_update=for_update) if parts else None
    if parts is None or holder is None or not secret_matches(parts[1], holder.request.secret_hash):
        raise LinkNotFound()
    return holder


def ensure_open(holder: LinkHolder, now: datetime) -> None:
    """LinkGone unless the link is pending; noted as read either way (ids only)."""
    note_read("assessment_request", holder.request.id)
    status = holder.request.status_at(now)
    if status is not RequestStatus.pending:
        raise LinkGone(status)


def answers_from(form: Mapping[str, str], instrument: Instrument) -> list[int]:
    """The item scores of a submitted form (`item1`...`itemN`), or AnswersInvalid naming
    every item that is missing or not one of the instrument's answers."""
    scores: list[int] = []
    problems: list[ItemProblem] = []
    top = ITEM_MAX[instrument]
    for number in range(1, ITEM_COUNT[instrument] + 1):
        raw = form.get(f"item{number}", "").strip()
        if not raw:
            problems.append(ItemProblem(number, "This question has no answer."))
            continue
        if not raw.isascii() or not raw.isdigit() or int(raw) > top:
            problems.append(ItemProblem(number, "This answer is not one of the choices."))
            continue
        scores.append(int(raw))
    if problems:
        raise AnswersInvalid(problems)
    return scores


async def complete(
    db: AsyncSession, holder: LinkHolder, scores: list[int], now: datetime
) -> Assessment:
    """Record the client's answers as an assessment administered now, close the link and emit
    `assessment_request.completed`, in one transaction. The link must be open (ensure_open)
    and locked (find_link with for_update)."""
    request = holder.request
    body = AssessmentCreate(
        instrument=Instrument(request.instrument),
        administered_at=now,
        item_scores=scores,
        session_id=request.session_id,
    )
    assessment = await assessments.store(
        db,
        holder.clinic,
        holder.client,
        body,
        recorded_by=request.created_by,
        source=AssessmentSource.client_self_report,
        now=now,
    )
    request.completed_at, request.assessment_id = now, assessment.id
    await db.flush()
    note_change("assessment_request", request.id, ["assessment_id", "completed_at"])
    await emit_completed(db, request, now)
    return assessment
