"""/api/v1/{preparation,ketamine,integration}-sessions."""

import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Response, params

from app.auth.dependencies import AnyStaff
from app.auth.prescribers import PrescriberRequired
from app.clock import Now
from app.common.http import IfMatch
from app.common.pagination import Pagination
from app.common.schemas import Page
from app.db import DbSession
from app.errors import Forbidden, Unauthorized, responses_for
from app.idempotency.dependencies import body_rule, idempotent, replay_responses
from app.sessions.dependencies import SessionFiltersDep
from app.sessions.dosing.rules import RemsRecordIncomplete, SafetyFlag
from app.sessions.edits import check_writer
from app.sessions.enums import SessionKind
from app.sessions.gate import RemsEnrollmentRequired
from app.sessions.read_models import SessionReadModel
from app.sessions.schemas import (
    IntegrationSessionCreate,
    IntegrationSessionRead,
    IntegrationSessionUpdate,
    KetamineSessionCreate,
    KetamineSessionRead,
    KetamineSessionUpdate,
    PreparationSessionCreate,
    PreparationSessionRead,
    PreparationSessionUpdate,
    SessionCreate,
)
from app.sessions.shared_routes import (
    EDIT_ERROR_TYPES,
    EDIT_ERRORS,
    WRITE_ERROR_TYPES,
    WRITE_ERRORS,
    add_shared_routes,
    create,
    list_kind,
    update,
)
from app.staff.models import Role
from app.unit_of_work import UnitOfWorkRoute
from app.windows.rules import IntegrationStatus, WindowStatus


def _router(kind: SessionKind) -> APIRouter:
    return APIRouter(
        prefix=f"/api/v1/{kind.value}-sessions",
        tags=[f"{kind.value}-sessions"],
        route_class=UnitOfWorkRoute,
        responses=responses_for(Unauthorized),
    )


def idempotent_booking(model: type[SessionCreate]) -> params.Depends:
    """The Idempotency-Key guard of a booking: a replay meets the field rules too (the
    scheduler's clinical fields, the prescriber's order)."""
    return idempotent(AnyStaff, authorize=body_rule(model, check_writer))


# A dose's record may also meet the REMS rule for marking its form submitted.
DOSE_WRITE_ERRORS = responses_for(*WRITE_ERROR_TYPES, PrescriberRequired, RemsRecordIncomplete)
DOSE_EDIT_ERRORS = responses_for(
    *EDIT_ERROR_TYPES, PrescriberRequired, RemsRecordIncomplete, RemsEnrollmentRequired
)

preparation = _router(SessionKind.preparation)
ketamine = _router(SessionKind.ketamine)
integration = _router(SessionKind.integration)


@preparation.post(
    "",
    status_code=201,
    response_model=PreparationSessionRead,
    dependencies=[idempotent_booking(PreparationSessionCreate)],
    responses=replay_responses(WRITE_ERRORS),
)
async def create_preparation_session(
    body: PreparationSessionCreate, principal: AnyStaff, db: DbSession, now: Now, response: Response
) -> SessionReadModel:
    """Book a preparation session (intentions, set and setting, consent, screening, safety)."""
    return await create(db, principal, SessionKind.preparation, body, now, response)


@preparation.get("", response_model=Page[PreparationSessionRead])
async def list_preparation_sessions(
    principal: AnyStaff, db: DbSession, now: Now, page: Pagination, query: SessionFiltersDep
) -> Page[SessionReadModel]:
    """Preparation sessions by start time."""
    return await list_kind(db, principal, SessionKind.preparation, query.filters, page, now)


@preparation.patch("/{session_id}", response_model=PreparationSessionRead, responses=EDIT_ERRORS)
async def update_preparation_session(
    session_id: uuid.UUID,
    body: PreparationSessionUpdate,
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> SessionReadModel:
    """Reschedule or edit a preparation session.

    Once it is completed, cancelled or a no-show, the scheduler can change nothing on it (403
    `session_closed`). A clinical role corrects a completed session's times, clinician or
    location only with a `correction_reason` (422 `correction_reason_required`); those of a
    cancelled or no-show session cannot change (409 `invalid_transition`). Notes and topics stay
    writable by clinical roles.
    """
    return await update(
        db, principal, SessionKind.preparation, session_id, body, if_match, now, response
    )


@ketamine.post(
    "",
    status_code=201,
    response_model=KetamineSessionRead,
    dependencies=[idempotent_booking(KetamineSessionCreate)],
    responses=replay_responses(DOSE_WRITE_ERRORS),
)
async def create_ketamine_session(
    body: KetamineSessionCreate, principal: AnyStaff, db: DbSession, now: Now, response: Response
) -> SessionReadModel:
    """Book a dosing session. With the clinic's preparation rule, a preparation must come first.
    Only a prescriber writes the order, `dose_mg` or `medication` (403 `prescriber_required`)."""
    return await create(db, principal, SessionKind.ketamine, body, now, response)


@ketamine.get("", response_model=Page[KetamineSessionRead], responses=responses_for(Forbidden))
async def list_ketamine_sessions(
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    page: Pagination,
    query: SessionFiltersDep,
    integration_status: Annotated[
        IntegrationStatus | None,
        Query(description="Only doses whose integration is in this state."),
    ] = None,
    safety_flag: Annotated[
        SafetyFlag | None,
        Query(description="Only doses raising this safety flag (clinical roles only)."),
    ] = None,
) -> Page[SessionReadModel]:
    """Dosing sessions by start time, each with its integration-window evaluation."""
    if safety_flag is not None and principal.role is Role.scheduler:
        raise Forbidden("Filtering by safety flags needs a clinical role.")
    filters = replace(query.filters, integration_status=integration_status, safety_flag=safety_flag)
    return await list_kind(db, principal, SessionKind.ketamine, filters, page, now)


@ketamine.patch("/{session_id}", response_model=KetamineSessionRead, responses=DOSE_EDIT_ERRORS)
async def update_ketamine_session(
    session_id: uuid.UUID,
    body: KetamineSessionUpdate,
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> SessionReadModel:
    """Reschedule or edit a dosing session, or record the dose; its window moves with it.

    A scheduler cannot change the route (403 `route_change_needs_clinical_role`) nor move a dose
    from 2 hours before its start (403 `dose_under_way`). Once the dose is completed, cancelled
    or a no-show, the scheduler can change nothing on it (403 `session_closed`). A clinical role
    corrects a completed dose's route, times, clinician or location only with a
    `correction_reason` (422 `correction_reason_required`); those of a cancelled or no-show dose
    cannot change (409 `invalid_transition`). The dosing record and notes stay writable by
    clinical roles; only a prescriber writes the order, `dose_mg` or `medication` (403
    `prescriber_required`). On an esketamine dose, `rems_form_submitted_at` is set only on a
    completed dose whose REMS monitoring record is complete after this request (409
    `rems_record_incomplete`, with the `missing` conditions). A completed dose recorded as
    esketamine only afterwards needs an `esketamine_rems_enrollment` consent in force at its
    start, unless its completion overrode the dosing gate (409 `rems_enrollment_required`).
    """
    return await update(
        db, principal, SessionKind.ketamine, session_id, body, if_match, now, response
    )


@integration.post(
    "",
    status_code=201,
    response_model=IntegrationSessionRead,
    dependencies=[idempotent_booking(IntegrationSessionCreate)],
    responses=replay_responses(WRITE_ERRORS),
)
async def create_integration_session(
    body: IntegrationSessionCreate,
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    response: Response,
) -> SessionReadModel:
    """Book an integration session; the response says whether it falls inside the window."""
    return await create(db, principal, SessionKind.integration, body, now, response)


@integration.get("", response_model=Page[IntegrationSessionRead])
async def list_integration_sessions(
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    page: Pagination,
    query: SessionFiltersDep,
    window_status: Annotated[
        WindowStatus | None, Query(description="Only sessions in this position to their window.")
    ] = None,
) -> Page[SessionReadModel]:
    """Integration sessions by start time, each with its window evaluation."""
    filters = replace(query.filters, window_status=window_status)
    return await list_kind(db, principal, SessionKind.integration, filters, page, now)


@integration.patch("/{session_id}", response_model=IntegrationSessionRead, responses=EDIT_ERRORS)
async def update_integration_session(
    session_id: uuid.UUID,
    body: IntegrationSessionUpdate,
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> SessionReadModel:
    """Reschedule, edit, link or unlink an integration session.

    Once it is completed, cancelled or a no-show, the scheduler can change nothing on it (403
    `session_closed`). A clinical role corrects a completed session's times, clinician, location
    or link only with a `correction_reason` (422 `correction_reason_required`); those of a
    cancelled or no-show session cannot change (409 `invalid_transition`). Notes stay writable
    by clinical roles.
    """
    return await update(
        db, principal, SessionKind.integration, session_id, body, if_match, now, response
    )


add_shared_routes(preparation, SessionKind.preparation, PreparationSessionRead)
add_shared_routes(ketamine, SessionKind.ketamine, KetamineSessionRead)
add_shared_routes(integration, SessionKind.integration, IntegrationSessionRead)

routers = (preparation, ketamine, integration)
