"""What the three session routers share: the bodies of their create, edit and list routes, which
differ by kind only in their schemas and filters, and the routes that are the same for every
kind (get one, its corrections, and the status actions), added by `add_shared_routes`."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response

from app.auth.dependencies import AnyStaff, Clinical
from app.auth.prescribers import PrescriberRequired
from app.auth.principal import Principal
from app.clock import Now
from app.common.http import IfMatch, check_version, set_etag
from app.common.pagination import PageParams, Pagination, split_page
from app.common.schemas import Page
from app.db import DbSession
from app.errors import (
    AppError,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    PreparationRequired,
    ScheduleConflict,
    ValidationFailed,
    VersionConflict,
    responses_for,
)
from app.sessions import edits, repository, service
from app.sessions.enums import SessionKind
from app.sessions.gate import (
    ConsentRequired,
    MedicalClearanceRequired,
    OverrideNotNeeded,
    RemsEnrollmentRequired,
)
from app.sessions.models import ClinicalSession
from app.sessions.read_models import SessionReadModel, to_read
from app.sessions.schemas import (
    CancelBody,
    CompleteBody,
    SessionCorrectionRead,
    SessionCreate,
    SessionUpdate,
)
from app.windows.service import evaluate_all

WRITE_ERROR_TYPES = (Forbidden, ValidationFailed, ScheduleConflict, PreparationRequired, Conflict)
WRITE_ERRORS = responses_for(*WRITE_ERROR_TYPES)
EDIT_ERROR_TYPES = (
    Forbidden,
    edits.SessionClosed,
    edits.RouteNeedsClinician,
    edits.DoseUnderWay,
    NotFound,
    ValidationFailed,
    edits.CorrectionReasonRequired,
    ScheduleConflict,
    PreparationRequired,
    InvalidTransition,
    Conflict,
    VersionConflict,
)
EDIT_ERRORS = responses_for(*EDIT_ERROR_TYPES)


async def respond(
    db: DbSession, principal: Principal, session: ClinicalSession, now: datetime, response: Response
) -> SessionReadModel:
    """The session's read model with its evaluation, and its ETag."""
    evaluations = await evaluate_all(db, principal.clinic_id, [session], principal.policy, now)
    set_etag(response, session.version)
    return to_read(session, evaluations[session.id], principal.dosing, now)


async def create(
    db: DbSession,
    principal: Principal,
    kind: SessionKind,
    body: SessionCreate,
    now: datetime,
    response: Response,
) -> SessionReadModel:
    edits.check_writer(principal, body)
    session = await service.create_session(db, principal, kind, body, now)
    response.headers["Location"] = f"/api/v1/{kind.value}-sessions/{session.id}"
    return await respond(db, principal, session, now, response)


async def update(
    db: DbSession,
    principal: Principal,
    kind: SessionKind,
    session_id: uuid.UUID,
    body: SessionUpdate,
    if_match: str | None,
    now: datetime,
    response: Response,
) -> SessionReadModel:
    edits.check_writer(principal, body)
    session = await service.get_session(db, principal.clinic_id, session_id, kind)
    check_version(if_match, session.version)
    session = await service.update_session(db, principal, session, body, now)
    return await respond(db, principal, session, now, response)


async def list_kind(
    db: DbSession,
    principal: Principal,
    kind: SessionKind,
    filters: repository.SessionFilters,
    page: PageParams,
    now: datetime,
) -> Page[Any]:
    policies = repository.Policies(principal.policy, principal.dosing)
    rows = await repository.list_page(db, principal.clinic_id, kind, filters, page, policies, now)
    items, cursor = split_page(rows, page, lambda s: (s.starts_at, s.id))
    evaluations = await evaluate_all(db, principal.clinic_id, items, policies.window, now)
    reads = [to_read(s, evaluations[s.id], policies.dosing, now) for s in items]
    return Page[Any](items=reads, next_cursor=cursor)


NOUN = {
    SessionKind.preparation: "a preparation session",
    SessionKind.ketamine: "a ketamine session",
    SessionKind.integration: "an integration session",
}
GET_DOC = {
    SessionKind.preparation: "One preparation session.",
    SessionKind.ketamine: "One dose, with whether integration is booked inside its window.",
    SessionKind.integration: "One integration session, with where it falls against its window.",
}
COMPLETE_DOC = "Mark it completed (once it has started); `ended_at` records when it really ended."
DOSE_COMPLETE_DOC = (
    " The dose's window is measured from it. A completed preparation session must come first "
    "(409 `preparation_required`). Then the dosing gate, at the dose's `starts_at`, under the "
    "clinic's `clinical_policy`: no medical clearance → 409 `medical_clearance_required`; no "
    "`kap_treatment` consent in force → 409 `consent_required`; esketamine without an "
    "`esketamine_rems_enrollment` consent in force → 409 `rems_enrollment_required`. The 409 "
    "names the first failed check and lists all in `failed_checks`. A prescriber completes it "
    "anyway with `override_reason` (the dose then carries `gate_overridden` and "
    "`gate_override`); the reason is refused when the gate passes (422 `override_not_needed`). "
    "Evidence: [dosing-gate](/docs/clinical-evidence#dosing-gate)"
)
GATE_ERRORS = (MedicalClearanceRequired, ConsentRequired, RemsEnrollmentRequired, OverrideNotNeeded)


def add_shared_routes(router: APIRouter, kind: SessionKind, read_model: type[Any]) -> None:
    """GET one and the three status actions, identical for every kind."""
    label, noun = kind.value, NOUN[kind]
    complete_doc = COMPLETE_DOC + (DOSE_COMPLETE_DOC if kind is SessionKind.ketamine else "")

    async def get_session(
        session_id: uuid.UUID, principal: AnyStaff, db: DbSession, now: Now, response: Response
    ) -> SessionReadModel:
        session = await service.get_session(db, principal.clinic_id, session_id, kind)
        return await respond(db, principal, session, now, response)

    router.add_api_route(
        "/{session_id}",
        get_session,
        methods=["GET"],
        name=f"get_{label}_session",
        summary=f"Get {noun}",
        description=GET_DOC[kind],
        response_model=read_model,
        responses=responses_for(NotFound),
    )

    async def list_corrections(
        session_id: uuid.UUID, principal: Clinical, db: DbSession, page: Pagination
    ) -> Page[SessionCorrectionRead]:
        session = await service.get_session(db, principal.clinic_id, session_id, kind)
        return await edits.list_corrections(db, session, page)

    router.add_api_route(
        "/{session_id}/corrections",
        list_corrections,
        methods=["GET"],
        name=f"list_{label}_session_corrections",
        summary=f"List the corrections of {noun}",
        description="Corrections made to it once it was completed, oldest first: the "
        "fields corrected, their values before, who and when, and the reason (clinical roles).",
        response_model=Page[SessionCorrectionRead],
        responses=responses_for(Forbidden, NotFound),
    )

    async def load(
        principal: Principal, db: DbSession, session_id: uuid.UUID, if_match: str | None
    ) -> ClinicalSession:
        session = await service.get_session(db, principal.clinic_id, session_id, kind)
        check_version(if_match, session.version)
        return session

    async def complete_session(
        session_id: uuid.UUID,
        body: CompleteBody,
        principal: Clinical,
        db: DbSession,
        now: Now,
        response: Response,
        if_match: IfMatch = None,
    ) -> SessionReadModel:
        session = await load(principal, db, session_id, if_match)
        session = await service.complete_session(
            db, principal, session, body.ended_at, now, body.override_reason
        )
        return await respond(db, principal, session, now, response)

    async def cancel_session(
        session_id: uuid.UUID,
        body: CancelBody,
        principal: AnyStaff,
        db: DbSession,
        now: Now,
        response: Response,
        if_match: IfMatch = None,
    ) -> SessionReadModel:
        session = await load(principal, db, session_id, if_match)
        session = await service.cancel_session(db, principal, session, body.reason, now)
        return await respond(db, principal, session, now, response)

    async def mark_no_show(
        session_id: uuid.UUID,
        principal: AnyStaff,
        db: DbSession,
        now: Now,
        response: Response,
        if_match: IfMatch = None,
    ) -> SessionReadModel:
        session = await load(principal, db, session_id, if_match)
        session = await service.mark_no_show(db, principal, session, now)
        return await respond(db, principal, session, now, response)

    actions: list[tuple[str, str, Callable[..., Awaitable[SessionReadModel]], str, str]] = [
        ("complete", "complete", complete_session, f"Complete {noun}", complete_doc),
        (
            "cancel",
            "cancel",
            cancel_session,
            f"Cancel {noun}",
            "Cancel it (scheduled sessions only), with a reason. It stays on record.",
        ),
        (
            "no-show",
            "mark_no_show",
            mark_no_show,
            f"Mark {noun} as a no-show",
            "Record that the client did not come (once the session has started).",
        ),
    ]
    action_errors = (Forbidden, NotFound, VersionConflict, Conflict, ValidationFailed)
    for path, verb, endpoint, summary, doc in actions:
        errors: tuple[type[AppError], ...] = action_errors
        if kind is SessionKind.ketamine and path == "complete":
            errors += (PreparationRequired, PrescriberRequired, *GATE_ERRORS)
        router.add_api_route(
            f"/{{session_id}}/{path}",
            endpoint,
            methods=["POST"],
            name=f"{verb}_{label}_session",
            summary=summary,
            description=doc,
            response_model=read_model,
            responses=responses_for(*errors),
        )
