"""The request unit of work: one transaction per request, with its audit rows, committed
before the response is sent."""

import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException

from app.audit.models import AuditEvent, Outcome
from app.audit.trail import TAG_RESOURCES, AuditTrail, current_trail
from app.common.pagination import cursor_box
from app.common.scope import current_request_state
from app.db import begin_write
from app.errors import AppError
from app.security import security_state
from app.security.exceptions import RateLimited
from app.security.rate_limit import address_key, rate_limits_of, verifies_callers_in

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DENIALS = {401: Outcome.unauthenticated, 403: Outcome.denied, 404: Outcome.not_found}
# Resources that hold PHI: a write to one that is refused (409, 412, 422, ...) is audited too.
PHI_RESOURCES = frozenset({"client", "session", "assessment", "unmatched_booking"})
# A throttled write was not looked at, so there is nothing about it to audit (and floods are not).
NOT_REFUSALS = frozenset({429})
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
        client_request_id=getattr(request.state, "client_request_id", None),
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
    A request that fails leaves no audit row, except a denied one (401, 403, 404) and a refused
    write on a PHI resource (another 4xx), each recorded in a transaction of its own with its
    status and no other detail. Denials without a verified caller pass the bound of
    app/audit/denials.py.

    On a route that verifies no caller, the credentials are part of the request (an inbound
    webhook's signature, a calendar feed's token): a denial there is a failed authentication of
    its client address, counted like a bad API key, and answered 429 instead once the address
    has spent that budget; such an address is refused before the route looks anything up.
    """

    _verifies: bool | None = None

    def _verifies_callers(self) -> bool:
        if self._verifies is None:
            self._verifies = verifies_callers_in(self.dependant)
        return self._verifies

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle_in_transaction(request: Request) -> Response:
            limits = rate_limits_of(request.app)
            if limits is not None and not self._verifies_callers():
                # Before any dependency runs: a route that verifies no caller (inbound bookings,
                # calendar feeds) is paid for by the client address, credentials or not, and
                # refused to an address that keeps failing to authenticate.
                await limits.refuse_failed_address(request.scope)
                await limits.admit_unverified(request.scope)
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
                refusal = await self._refused_authentication(request, error)
                await self._after_failure(session, request, trail, refusal or error)
                if refusal is not None:
                    raise refusal from None
                raise
        return response

    async def _refused_authentication(
        self, request: Request, error: BaseException
    ) -> RateLimited | None:
        """The 429 that answers a denial on a route verifying no caller, once its address has
        spent its failed-authentication budget (see the class docstring); else None."""
        limits = rate_limits_of(request.app)
        if limits is None or self._verifies_callers() or _status_of(error) not in DENIALS:
            return None
        if getattr(request.state, "principal", None) is not None:
            return None  # the feed token was verified: what failed afterwards is no login
        try:
            await limits.failed_authentication(request.scope)
        except RateLimited as refusal:
            return refusal
        return None

    async def _after_failure(
        self, session: AsyncSession, request: Request, trail: AuditTrail, error: BaseException
    ) -> None:
        hooks: list[OnFailure] = list(getattr(request.state, "on_failure", ()))
        failure = _audited_failure(request, trail, error)
        if failure is not None and not await _admitted(request):
            failure = None
        if not hooks and failure is None:
            return
        await begin_write(session)
        for hook in hooks:
            await hook(session)
        if failure is not None:
            outcome, status = failure
            trail.touches.clear()  # a denied or refused request showed and changed nothing
            await _write_audit(session, request, trail, outcome, status)
        await session.commit()


def _status_of(error: BaseException) -> int | None:
    if isinstance(error, AppError):
        return error.status
    if isinstance(error, RequestValidationError):
        return 422
    if isinstance(error, HTTPException):
        return error.status_code
    return None


def _audited_failure(
    request: Request, trail: AuditTrail, error: BaseException
) -> tuple[Outcome, int] | None:
    """The outcome to audit a failed request with, if it is one that is audited."""
    status = _status_of(error)
    if status is None:
        return None
    if status in DENIALS:
        return DENIALS[status], status
    refused_write = (
        request.method not in READ_METHODS
        and trail.resource_type in PHI_RESOURCES
        and 400 <= status < 500
        and status not in NOT_REFUSALS
    )
    return (Outcome.refused, status) if refused_write else None


async def _admitted(request: Request) -> bool:
    """A denial's row without a verified caller is written only within the bound of
    app/audit/denials.py, whether it names a clinic (a real key prefix, an integration, a feed
    token's prefix) or none: whoever sent it proved nothing."""
    security = security_state(request.app)
    if getattr(request.state, "principal", None) is not None or security is None:
        return True
    subject = getattr(request.state, "auth_subject", None)
    clinic_id = subject.clinic_id if subject is not None else None
    return await security.unverified_denials.admit(address_key(request.scope), clinic_id)
