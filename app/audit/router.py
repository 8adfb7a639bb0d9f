"""/api/v1/audit-events (admin): read-only, with a streamed NDJSON export."""

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import repository
from app.audit.dependencies import AuditQueryDep
from app.audit.schemas import AuditEventRead
from app.auth.dependencies import Admin
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
from app.db import DbSession
from app.errors import Forbidden, Unauthorized, responses_for
from app.unit_of_work import UnitOfWorkRoute

router = APIRouter(
    prefix="/api/v1/audit-events",
    tags=["audit"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden),
)


@router.get("", response_model=Page[AuditEventRead])
async def list_audit_events(
    principal: Admin, db: DbSession, page: Pagination, query: AuditQueryDep
) -> Page[AuditEventRead]:
    """Your clinic's audit trail, oldest first (admin). Nothing can change or delete it."""
    rows = await repository.list_page(db, principal.clinic_id, query.filters, page)
    items, cursor = split_page(rows, page, repository.position_of)
    return Page[AuditEventRead](
        items=[AuditEventRead.from_item(e) for e in items], next_cursor=cursor
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "One event per line."}
    },
)
async def export_audit_events(
    request: Request, principal: Admin, query: AuditQueryDep
) -> StreamingResponse:
    """The whole matching trail as newline-delimited JSON, streamed (admin)."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    clinic_id = principal.clinic_id

    async def lines() -> AsyncIterator[bytes]:
        # The export outlives the request's transaction, so it reads in a session of its own.
        async with sessionmaker() as db:
            async for event in repository.stream(db, clinic_id, query.filters):
                yield AuditEventRead.from_item(event).model_dump_json().encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
