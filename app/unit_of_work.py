"""The unit of work: one transaction with its audit trail, for a request or a worker task.

A request (UnitOfWorkRoute below) and each worker task (`worker_unit`) run in one: a session,
the audit trail of what it read and changed, whom it acts for, hooks to run before commit or
after a rollback, and a commit that writes the trail's rows in the change's transaction. While it
runs it is the current work (app/common/scope.py), the only request state that travels
implicitly.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, nullcontext
from typing import Any, Generic, TypeVar, overload

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.actors import Actor, RequestCaller, request_trail
from app.audit.failures import DENIALS, READ_METHODS, audited_failure, status_of
from app.audit.models import TASK_STATUS, Outcome
from app.audit.trail import AuditTrail
from app.audit.writes import insert_rows
from app.clock import Clock
from app.common.crypto import SecretBox
from app.common.scope import ROLES_WITHOUT_CLINICAL_ACCESS, current_work
from app.db import begin_write
from app.db_held import DirectSession
from app.security import security_state
from app.security.exceptions import RateLimited
from app.security.rate_limit import address_key, rate_limits_of, verifies_callers_in

R = TypeVar("R")  # what the work produced, handed to the before-commit hooks (a Response)
BeforeCommit = Callable[[R, AsyncSession], Awaitable[None]]
OnFailure = Callable[[AsyncSession], Awaitable[None]]


class _HidesOnceRoleKnown:
    """`UnitOfWork.hides_clinical_fields`: whether the actor's role may not see clinical fields,
    False while no role is known. Once one is, the answer is kept in the unit of work's own
    dict, where attribute lookup finds it before this descriptor: pydantic asks for every
    clinical field it writes (some 600 per worklist), and a request's staff member has one
    role, verified or not. `act_as` drops it for the new actor. Never assign it: having no
    setter, an assignment would stick for the rest of the unit of work."""

    @overload
    def __get__(self, work: None, owner: type) -> "_HidesOnceRoleKnown": ...
    @overload
    def __get__(self, work: "UnitOfWork[Any]", owner: type | None = None) -> bool: ...
    def __get__(
        self, work: "UnitOfWork[Any] | None", owner: type | None = None
    ) -> "bool | _HidesOnceRoleKnown":
        if work is None:  # asked of the class (help, autodoc)
            return self
        actor = work.actor
        if actor is None or actor.role is None:
            return False
        hides = actor.role in ROLES_WITHOUT_CLINICAL_ACCESS
        work.__dict__["hides_clinical_fields"] = hides
        return hides


class UnitOfWork(Generic[R]):
    """A session in one transaction, its audit trail, its actor and its hooks.

    Services never commit: they flush, note what they read and changed, and the unit of work
    commits all of it, audit rows included, or none of it.
    """

    def __init__(
        self,
        session: AsyncSession,
        trail: AuditTrail,
        *,
        clock: Clock,
        caller: Callable[[], Actor | None] = lambda: None,
        cursor_box: SecretBox | None = None,
        audit_untouched: bool = True,
    ) -> None:
        self.session = session
        self.trail = trail
        self.clock = clock
        self._caller = caller
        self._cursor_box = cursor_box
        # A request is an event in itself; a worker task is audited for what it touched only.
        self.audit_untouched = audit_untouched
        self.before_commit: list[BeforeCommit[R]] = []
        self.after_failure: list[OnFailure] = []

    @property
    def actor(self) -> Actor | None:
        return self._caller()

    def act_as(self, actor: Actor) -> None:
        """Name the actor, once a worker task knows whom it acts for."""
        self._caller = lambda: actor
        self.__dict__.pop("hides_clinical_fields", None)  # asked again of the new actor

    hides_clinical_fields = _HidesOnceRoleKnown()

    @property
    def cursor_box(self) -> SecretBox | None:
        return self._cursor_box

    def note_read(self, resource_type: str, resource_id: uuid.UUID | str) -> None:
        self.trail.read(resource_type, resource_id)

    def note_change(
        self, resource_type: str, resource_id: uuid.UUID | str, fields: list[str] | None
    ) -> None:
        self.trail.change(resource_type, resource_id, fields)

    def notes_undone_on_error(self) -> AbstractContextManager[None]:
        return self.trail.undone_on_error()

    @contextmanager
    def published(self) -> Iterator["UnitOfWork[R]"]:
        """Make this the current work (app/common/scope.py) for the block."""
        token = current_work.set(self)
        try:
            yield self
        finally:
            current_work.reset(token)

    def on_success(self, hook: BeforeCommit[R]) -> None:
        """Run `hook` inside the transaction, after the work, just before commit."""
        self.before_commit.append(hook)

    def on_failure(self, hook: OnFailure) -> None:
        """Run `hook` in a transaction of its own after the work's transaction rolled back."""
        self.after_failure.append(hook)

    async def begin(self) -> None:
        """Start the transaction as a write transaction (BEGIN IMMEDIATE on SQLite)."""
        await begin_write(self.session)

    async def ensure_writable(self) -> None:
        """Before writing in a transaction begun as a read: a SQLite read transaction cannot
        safely turn into a write one under concurrency, so end it and go on in a write
        transaction of its own (PostgreSQL writes in place)."""
        if self.session.get_bind().dialect.name == "sqlite":
            await self.session.commit()
            await self.begin()

    async def commit(self, result: R, status_code: int) -> None:
        """Run the before-commit hooks, write the trail's rows and commit."""
        for hook in self.before_commit:
            await hook(result, self.session)
        await self._write_audit(Outcome.success, status_code)
        await self.session.commit()

    async def finish_task(self: "UnitOfWork[None]") -> None:
        """Commit a worker task: its audit rows carry `TASK_STATUS`, as no HTTP answer exists."""
        await self.commit(None, TASK_STATUS)

    async def rollback(self) -> None:
        """Roll back; the before-commit hooks of what was rolled back are dropped with it."""
        await self.session.rollback()
        self.before_commit.clear()

    async def fail(self, audited: tuple[Outcome, int] | None = None) -> None:
        """After a rollback, in a transaction of its own: the failure hooks, and the failure's
        audit row if it is one that is audited (`audited`: its outcome and status). A failed
        unit of work showed and changed nothing, so the row names no resource it touched."""
        if not self.after_failure and audited is None:
            return
        await self.begin()
        for hook in self.after_failure:
            await hook(self.session)
        if audited is not None:
            self.trail.touches.clear()
            await self._write_audit(*audited)
        await self.session.commit()

    async def _write_audit(self, outcome: Outcome, status_code: int) -> None:
        if not self.trail.touches and not self.audit_untouched:
            return
        actor = self.actor
        rows = self.trail.rows(
            clinic_id=actor.clinic_id if actor else None,
            actor_id=actor.id if actor else None,
            actor_role=actor.role if actor else None,
            at=self.clock(),
            outcome=outcome,
            status_code=status_code,
        )
        await insert_rows(self.session, rows)


@asynccontextmanager
async def worker_unit(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    action: str,
    resource_type: str,
) -> AsyncIterator[UnitOfWork[None]]:
    """A worker task's unit of work, in a write transaction: a request without HTTP.

    The task names its actor (`act_as`) before anything is audited and commits itself
    (`finish_task()`); an error rolls back, runs the failure hooks and propagates.
    """
    trail = AuditTrail(action, resource_type, request_id=f"worker-{uuid.uuid4().hex}", ip=None)
    async with sessionmaker() as session:
        work: UnitOfWork[None] = UnitOfWork(session, trail, clock=clock, audit_untouched=False)
        with work.published():
            await work.begin()
            try:
                yield work
            except Exception:
                await work.rollback()
                await work.fail()
                raise


@asynccontextmanager
async def savepoint(db: AsyncSession) -> AsyncIterator[None]:
    """A part of the current unit of work that may fail on its own: an error inside rolls the
    part back, and the audit trail forgets what it noted."""
    work = current_work.get()
    with work.notes_undone_on_error() if work is not None else nullcontext():
        async with db.begin_nested():
            yield


def current_unit(request: Request) -> UnitOfWork[Response]:
    """The request's unit of work, opened by UnitOfWorkRoute."""
    work: UnitOfWork[Response] = request.state.unit_of_work
    return work


def on_success(request: Request, hook: BeforeCommit[Response]) -> None:
    """Run `hook` inside the request's transaction, after the endpoint, just before commit."""
    current_unit(request).on_success(hook)


def on_failure(request: Request, hook: OnFailure) -> None:
    """Run `hook` in a fresh transaction after the request's transaction rolled back."""
    current_unit(request).on_failure(hook)


class EarlyResponse(Exception):
    """Raised by a dependency to answer without running the endpoint (e.g. an idempotent replay)."""

    def __init__(self, response: Response) -> None:
        super().__init__("early response")
        self.response = response


class UnitOfWorkRoute(APIRoute):
    """Runs each request in one unit of work, committed before the response is sent.

    FastAPI tears down `yield` dependencies after the response has gone out, where a failed
    commit could no longer change the status. `Depends(scope="function")` would commit in time,
    but its teardown never sees the response, and the hooks need it: the audit row records its
    status and an idempotent POST stores its body. So the route wraps the handler instead.
    A request that fails leaves no audit row, except a denied one (401, 403, 404) and a refused
    write on a PHI resource (another 4xx: app/audit/failures.py), each recorded in a transaction
    of its own with its status and no other detail. Denials without a verified caller pass the
    bound of app/audit/denials.py.

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
            return await self.in_unit_of_work(request, handler)

        return handle_in_transaction

    async def in_unit_of_work(
        self,
        request: Request,
        handler: Callable[[Request], Coroutine[Any, Any, Response]],
        *,
        direct: bool = False,
    ) -> Response:
        """`handler`'s response to `request`, in a unit of work of this route: FastAPI's
        handler, or the route's direct answer (app/direct_answers.py, `direct`), whose session
        holds its own connection on PostgreSQL (app/db_held.py)."""
        limits = rate_limits_of(request.app)
        if limits is not None and not self._verifies_callers():
            # Before any dependency runs: a route that verifies no caller (inbound bookings,
            # calendar feeds) is paid for by the client address, credentials or not, and
            # refused to an address that keeps failing to authenticate.
            await limits.refuse_failed_address(request.scope)
            await limits.admit_unverified(request.scope)
        sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
        engine = request.app.state.engine
        held = direct and engine.dialect.driver == "asyncpg"
        async with DirectSession(engine) if held else sessionmaker() as session:
            work: UnitOfWork[Response] = UnitOfWork(
                session,
                request_trail(self, request),
                clock=request.app.state.clock,
                caller=RequestCaller(request),
                cursor_box=request.app.state.secret_box,
            )
            request.state.unit_of_work = work
            request.state.db = session
            with work.published():
                return await self._run(handler, request, work)

    async def _run(
        self,
        handler: Callable[[Request], Coroutine[Any, Any, Response]],
        request: Request,
        work: UnitOfWork[Response],
    ) -> Response:
        writing = request.method not in READ_METHODS
        if writing:
            await work.begin()
        try:
            response = await handler(request)
            if not writing:
                await work.ensure_writable()  # the read is recorded
            await work.commit(response, response.status_code)
        except EarlyResponse as early:
            # A replay shows the stored resource again: that is a read, so it is audited.
            await work.rollback()
            await work.begin()
            location = early.response.headers.get("location", "")
            if location:
                work.trail.read(work.trail.resource_type, location.rsplit("/", 1)[-1])
            await work.commit(early.response, early.response.status_code)
            return early.response
        except BaseException as error:
            await work.rollback()
            refusal = await self._refused_authentication(request, error)
            failure = audited_failure(request.method, work.trail.resource_type, refusal or error)
            if failure is not None and not await _admitted(request):
                failure = None
            await work.fail(failure)
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
        if limits is None or self._verifies_callers() or status_of(error) not in DENIALS:
            return None
        if getattr(request.state, "principal", None) is not None:
            return None  # the feed token was verified: what failed afterwards is no login
        try:
            await limits.failed_authentication(request.scope)
        except RateLimited as refusal:
            return refusal
        return None


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
