"""/api/v1/staff/{staff_id}/calendar-token (admin, or the staff member themself) and
/api/v1/staff/{staff_id}/calendar.ics (the feed, opened by its token alone)."""

import uuid

from fastapi import APIRouter, Request, Response

from app.auth.dependencies import AnyStaff
from app.calendar import service
from app.calendar.dependencies import FeedAccess, may_change_token
from app.calendar.schemas import CalendarTokenIssued
from app.clock import Now
from app.common.urls import public_base
from app.db import DbSession
from app.errors import Conflict, Forbidden, NotFound, Unauthorized, responses_for
from app.idempotency.dependencies import idempotent, replay_responses
from app.unit_of_work import UnitOfWorkRoute

ICALENDAR = "text/calendar"

router = APIRouter(prefix="/api/v1/staff", tags=["calendar"], route_class=UnitOfWorkRoute)


class CalendarResponse(Response):
    media_type = ICALENDAR  # Starlette adds `; charset=utf-8` to text types


@router.post(
    "/{staff_id}/calendar-token",
    status_code=201,
    response_model=CalendarTokenIssued,
    dependencies=[idempotent(AnyStaff, holds_secret=True, authorize=may_change_token)],
    responses=replay_responses(
        responses_for(Unauthorized, Forbidden, NotFound, Conflict), holds_secret=True
    ),
)
async def issue_calendar_token(
    staff_id: uuid.UUID,
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    request: Request,
    response: Response,
) -> CalendarTokenIssued:
    """Issue a calendar feed link for a staff member (admin, or the member themself); it
    replaces their previous one, and the token is in this response only."""
    staff = await service.staff_for_token_change(db, principal, staff_id)
    token, plaintext = await service.issue_token(db, principal, staff, now)
    response.headers["Location"] = f"/api/v1/staff/{staff.id}/calendar-token"
    return CalendarTokenIssued(
        staff_id=staff.id,
        # Calendar apps subscribe to an absolute address: KAP_PUBLIC_URL, else this request's.
        feed_url=f"{public_base(request)}{service.feed_path(staff.id)}?token={plaintext}",
        token=plaintext,
        created_at=token.created_at,
    )


@router.delete(
    "/{staff_id}/calendar-token",
    status_code=204,
    responses=responses_for(Unauthorized, Forbidden, NotFound),
)
async def revoke_calendar_token(
    staff_id: uuid.UUID, principal: AnyStaff, db: DbSession, now: Now
) -> None:
    """Revoke a staff member's calendar feed link (admin, or the member themself); the feed
    answers 404 from now on."""
    staff = await service.staff_for_token_change(db, principal, staff_id)
    await service.revoke_token(db, staff, now)


@router.get(
    "/{staff_id}/calendar.ics",
    response_class=CalendarResponse,
    responses={
        200: {
            "description": "The feed, as iCalendar (RFC 5545).",
            "content": {ICALENDAR: {"schema": {"type": "string"}}},
        },
        **responses_for(service.FeedNotFound),
    },
)
async def get_calendar_feed(
    staff_id: uuid.UUID, feed: FeedAccess, db: DbSession, now: Now
) -> CalendarResponse:
    """A staff member's sessions from 30 days ago to 180 days ahead, with the integration
    window of each scheduled or completed dose, as an iCalendar feed. No bearer header: the
    `token` in the URL opens it, and any wrong, revoked or foreign token gets the same 404.
    Events carry the session kind and the client's initials, never names or clinical details."""
    body = await service.feed_document(db, feed.principal, feed.staff, now)
    return CalendarResponse(content=body)
