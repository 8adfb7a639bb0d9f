"""GET /api/v1/clients/{id}/journey and GET /api/v1/worklists/integration."""

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth.dependencies import AnyStaff, authenticate
from app.clock import Now, current_time
from app.common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.db import DbSession, get_db
from app.direct_answers import (
    DirectAnswer,
    answers_directly,
    canonical_uuid,
    only_absent,
    optional_uuid,
)
from app.errors import NotFound, Unauthorized, responses_for
from app.journeys import service
from app.journeys.schemas import IntegrationWorklist, Journey
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(route_class=UnitOfWorkRoute, responses=responses_for(Unauthorized))


async def _journey_directly(request: Request, path: Mapping[str, Any]) -> Journey:
    """get_journey with its dependencies resolved as FastAPI resolves them, in its order."""
    principal = await authenticate(request)
    db, now = await get_db(request), await current_time(request)
    return await service.journey(db, principal, path["client_id"], now)


@router.get(
    "/api/v1/clients/{client_id}/journey",
    response_model=Journey,
    tags=["journeys"],
    responses=responses_for(NotFound),
)
@answers_directly(
    DirectAnswer(
        _journey_directly,
        resolves=(authenticate, get_db, current_time),
        path={"client_id": canonical_uuid},
    )
)
async def get_journey(
    client_id: uuid.UUID, principal: AnyStaff, db: DbSession, now: Now
) -> Journey:
    """A client's whole journey in time order, each session evaluated, with alerts."""
    return await service.journey(db, principal, client_id, now)


async def _worklist_directly(request: Request, query: Mapping[str, Any]) -> IntegrationWorklist:
    """get_integration_worklist with its dependencies resolved as FastAPI resolves them."""
    principal = await authenticate(request)
    db, now = await get_db(request), await current_time(request)
    return await service.worklist(db, principal, now, query["clinician_id"], query["limit"])


@router.get("/api/v1/worklists/integration", response_model=IntegrationWorklist, tags=["worklists"])
@answers_directly(
    DirectAnswer(
        _worklist_directly,
        resolves=(authenticate, get_db, current_time),
        path={},
        # A limit given is FastAPI's to check against its bounds.
        query={"clinician_id": optional_uuid, "limit": only_absent(DEFAULT_LIMIT)},
    )
)
async def get_integration_worklist(
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    clinician_id: Annotated[
        uuid.UUID | None, Query(description="Only this clinician's sessions.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Cap on each list.")
    ] = DEFAULT_LIMIT,
) -> IntegrationWorklist:
    """Doses with no integration booked in their window, and bookings outside their window."""
    return await service.worklist(db, principal, now, clinician_id, limit)
