"""The request unit of work: one transaction per request, with its audit rows, committed
before the response is sent."""

import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent, Outcome
from app.audit.trail import TAG_RESOURCES, AuditTrail, current_trail
from app.common.pagination import cursor_box
from app.common.scope import current_request_state
from app.db import begin_write
from app.errors import AppError

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DENIALS = {401: Outcome.unauthenticated, 403: Outcome.denied, 404: Outcome.not_found}
BeforeCommit = Callable[[Response, AsyncSession], Awaitable[None]]
OnFailure = Callable[[AsyncSession], Awaitable[None]]


class EarlyResponse(Exception):
    """Raised by a dependency to answer without running the endpoint (e.g. an idempotent replay)."""

    def __init__(self, response: Response) -> None:
        super().__init__("early response")
        self.response = response


def on_success(request: Request, hook: BeforeCommit) -> None:
    """Run `hook` inside the request's transaction, after the endpoint, just before commit."""
    request.state.before_commit = [*getattr(request.state, "before_commit", ()), hook]


def on_failure(request: Request, hook: OnFailure) -> None:
    """Run `hook` in a fresh transaction after the request's transaction rolled back."""
    request.state.on_failure = [*getattr(request.state, "on_failure", ()), hook]


def _trail(route: APIRoute, request: Request) -> AuditTrail:
    tag = str(route.tags[0]) if route.tags else ""
    request_id = getattr(request.state, "request_id", None) or str(uuid.uuid4())
    return AuditTrail(
        action=route.name,
        resource_type=TAG_RESOURCES.get(tag, tag or "api"),
        request_id=request_id,
        ip=request.client.host if request.client else None,
    )


async def _write_audit(
    session: AsyncSession, request: Request, trail: AuditTrail, outcome: Outcome, status: int
) -> None:
    principal = getattr(request.state, "principal", None)
    subject = principal or getattr(request.state, "auth_subject", None)
    path_ids = [str(v) for k, v in request.path_params.items() if k.endswith("_id")]
    rows = trail.rows(
        clinic_id=subject.clinic_id if subject else None,
        actor_id=subject.staff_id if subject else None,
        actor_role=subject.role.value if subject and subject.role else None,
        at=request.app.state.clock(),
        outcome=outcome,
        status_code=status,
        fallback_id=path_ids[0] if path_ids else None,
    )
    await session.execute(insert(AuditEvent), rows)


class UnitOfWorkRoute(APIRoute):
    """Runs each request in one transaction, audit rows included, committed before the response
    is sent.

    FastAPI tears down `yield` dependencies after the response has gone out, where a failed
    commit could no longer change the status; wrapping the handler keeps the commit inside.
    A request that fails leaves no audit row, except a denied one (401, 403, 404), which is
    recorded in a transaction of its own.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle_in_transaction(request: Request) -> Response:
            trail = _trail(self, request)
            trail_token = current_trail.set(trail)
            state_token = current_request_state.set(request.state)
            box_token = cursor_box.set(request.app.state.secret_box)
            try:
                return await self._run(handler, request, trail)
            finally:
                cursor_box.reset(box_token)
                current_request_state.reset(state_token)
                current_trail.reset(trail_token)

        return handle_in_transaction

    async def _run(
        self,
        handler: Callable[[Request], Coroutine[Any, Any, Response]],
        request: Request,
        trail: AuditTrail,
    ) -> Response:
        sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
        async with sessionmaker() as session:
            request.state.db = session
            writing = request.method not in READ_METHODS
            if writing:
                await begin_write(session)
            try:
                response = await handler(request)
                if not writing and session.get_bind().dialect.name == "sqlite":
                    # A SQLite read transaction cannot safely turn into a write one under
                    # concurrency; end it and record the read in a write transaction of its own.
                    await session.commit()
                    await begin_write(session)
                for hook in getattr(request.state, "before_commit", ()):
                    await hook(response, session)
                await _write_audit(session, request, trail, Outcome.success, response.status_code)
                await session.commit()
            except EarlyResponse as early:
                # A replay shows the stored resource again: that is a read, so it is audited.
                await session.rollback()
                await begin_write(session)
                location = early.response.headers.get("location", "")
                if location:
                    trail.read(trail.resource_type, location.rsplit("/", 1)[-1])
                await _write_audit(
                    session, request, trail, Outcome.success, early.response.status_code
                )
                await session.commit()
                return early.response
            except BaseException as error:
                await session.rollback()
                await self._after_failure(session, request, trail, error)
                raise
        return response

    async def _after_failure(
        self, session: AsyncSession, request: Request, trail: AuditTrail, error: BaseException
    ) -> None:
        hooks: list[OnFailure] = list(getattr(request.state, "on_failure", ()))
        denial = DENIALS.get(error.status) if isinstance(error, AppError) else None
        if not hooks and denial is None:
            return
        await begin_write(session)
        for hook in hooks:
            await hook(session)
        if denial is not None and isinstance(error, AppError):
            trail.touches.clear()  # a denied request read and changed nothing
            await _write_audit(session, request, trail, denial, error.status)
        await session.commit()
