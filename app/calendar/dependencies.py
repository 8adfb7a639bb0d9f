"""Feed authentication: the token in the URL stands in for a bearer header.

Calendar apps subscribe to a URL and cannot send headers, so the feed route takes no bearer
token (a bearer key of any role does not open it) and every wrong token is the same 404.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_read
from app.auth.principal import AuthSubject, Principal
from app.calendar import repository
from app.calendar.models import CalendarFeedToken
from app.calendar.service import (
    FEED_TOKEN,
    FeedNotFound,
    record_token_use,
    staff_for_token_change,
)
from app.clock import Now
from app.common.tokens import secret_matches, use_is_due
from app.db import DbSession
from app.staff.models import Staff
from app.unit_of_work import on_success

MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class FeedReader:
    """The staff member a valid feed URL acts as, with the token that opened it."""

    principal: Principal
    staff: Staff
    token: CalendarFeedToken


async def authenticate_feed(
    request: Request,
    db: DbSession,
    now: Now,
    staff_id: Annotated[uuid.UUID, Path()],
    token: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_TOKEN_LENGTH,
            description="The feed token (`kapcal_...`) from `POST .../calendar-token`.",
        ),
    ],
) -> FeedReader:
    """The token's staff member, if the token is live and is that staff member's; else 404."""
    parts = FEED_TOKEN.split(token)
    holder = await repository.token_by_prefix(db, parts[0]) if parts else None
    if parts is None or holder is None:
        raise FeedNotFound()
    clinic, staff, feed_token = holder.clinic, holder.staff, holder.token
    # File a refused attempt on a real token under its clinic's audit trail, as for API keys.
    request.state.auth_subject = AuthSubject(clinic.id, None, None)
    if not secret_matches(parts[1], feed_token.secret_hash):
        raise FeedNotFound()
    request.state.auth_subject = AuthSubject(clinic.id, staff.id, staff.role)
    if feed_token.revoked_at is not None or not staff.active or staff.id != staff_id:
        raise FeedNotFound()
    if use_is_due(feed_token.last_used_at, now):
        token_id = feed_token.id

        async def record_use(_: Response, session: AsyncSession) -> None:
            await record_token_use(session, token_id, now)

        on_success(request, record_use)
    # No API key: the feed token stands in. As principal, it files the read under the clinic.
    principal = Principal.of(staff, clinic, None)
    request.state.principal = principal
    note_read("calendar_feed_token", feed_token.id)
    return FeedReader(principal, staff, feed_token)


FeedAccess = Annotated[FeedReader, Depends(authenticate_feed)]


async def may_change_token(request: Request, db: AsyncSession, principal: Principal) -> None:
    """An idempotent replay of a token issue meets the issue's own check (admin, or self)."""
    try:
        staff_id = uuid.UUID(str(request.path_params.get("staff_id")))
    except ValueError:
        return  # the route answers a malformed id itself (422)
    await staff_for_token_change(db, principal, staff_id)
