"""/api/v1/{preparation,ketamine,integration}-sessions."""

import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.deps import AnyStaff
from app.clock import Now
from app.common.http import IfMatch
from app.common.pagination import Pagination
from app.common.schemas import Page
from app.db import DbSession
from app.errors import Forbidden, NotFound, Unauthorized, VersionConflict, responses_for
from app.idempotency.service import Idempotent
from app.sessions.dosing import SafetyFlag
from app.sessions.enums import SessionKind
from app.sessions.router import (
    WRITE_ERRORS,
    SessionFiltersDep,
    add_shared_routes,
    create,
    list_kind,
    update,
)
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
)
from app.sessions.views import SessionReadModel
from app.staff.models import Role
from app.unit_of_work import UnitOfWorkRoute
from app.windows.rules import IntegrationStatus, WindowStatus

EDIT_ERRORS = {**WRITE_ERRORS, **responses_for(NotFound, VersionConflict)}


def _router(kind: SessionKind) -> APIRouter:
    return APIRouter(
        prefix=f"/api/v1/{kind.value}-sessions",
        tags=[f"{kind.value}-sessions"],
        route_class=UnitOfWorkRoute,
        responses=responses_for(Unauthorized),
    )


preparation = _router(SessionKind.preparation)
ketamine = _router(SessionKind.ketamine)
integration = _router(SessionKind.integration)


@preparation.post(
    "",
    status_code=201,
    response_model=PreparationSessionRead,
    dependencies=[Idempotent],
    responses=WRITE_ERRORS,
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
    """Reschedule (scheduled only) or edit a preparation session."""
    return await update(
        db, principal, SessionKind.preparation, session_id, body, if_match, now, response
    )


@ketamine.post(
    "",
    status_code=201,
    response_model=KetamineSessionRead,
    dependencies=[Idempotent],
    responses=WRITE_ERRORS,
)
async def create_ketamine_session(
    body: KetamineSessionCreate, principal: AnyStaff, db: DbSession, now: Now, response: Response
) -> SessionReadModel:
    """Book a dosing session. With the clinic's preparation rule, a preparation must come first."""
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


@ketamine.patch("/{session_id}", response_model=KetamineSessionRead, responses=EDIT_ERRORS)
async def update_ketamine_session(
    session_id: uuid.UUID,
    body: KetamineSessionUpdate,
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> SessionReadModel:
    """Reschedule (scheduled only) or edit a dosing session; its window moves with it."""
    return await update(
        db, principal, SessionKind.ketamine, session_id, body, if_match, now, response
    )


@integration.post(
    "",
    status_code=201,
    response_model=IntegrationSessionRead,
    dependencies=[Idempotent],
    responses=WRITE_ERRORS,
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
    """Reschedule (scheduled only), edit, link or unlink an integration session."""
    return await update(
        db, principal, SessionKind.integration, session_id, body, if_match, now, response
    )


add_shared_routes(preparation, SessionKind.preparation, PreparationSessionRead)
add_shared_routes(ketamine, SessionKind.ketamine, KetamineSessionRead)
add_shared_routes(integration, SessionKind.integration, IntegrationSessionRead)

routers = (preparation, ketamine, integration)
