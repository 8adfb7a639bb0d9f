"""GET /api/v1/clients/{id}/journey and GET /api/v1/worklists/integration."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import AnyStaff
from app.clock import Now
from app.common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.db import DbSession
from app.direct_answers import OPTIONAL_UUID, UUID, answers_directly, only_absent
from app.errors import NotFound, Unauthorized, responses_for
from app.journeys import service
from app.journeys.schemas import IntegrationWorklist, Journey
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(route_class=UnitOfWorkRoute, responses=responses_for(Unauthorized))


@router.get(
    "/api/v1/clients/{client_id}/journey",
    response_model=Journey,
    tags=["journeys"],
    responses=responses_for(NotFound),
)
@answers_directly(path={"client_id": UUID})
async def get_journey(
    client_id: uuid.UUID, principal: AnyStaff, db: DbSession, now: Now
) -> Journey:
    """A client's whole journey in time order, each session evaluated, with alerts."""
    return await service.journey(db, principal, client_id, now)


@router.get("/api/v1/worklists/integration", response_model=IntegrationWorklist, tags=["worklists"])
# A limit given is FastAPI's to check against its bounds.
@answers_directly(query={"clinician_id": OPTIONAL_UUID, "limit": only_absent(int, DEFAULT_LIMIT)})
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
