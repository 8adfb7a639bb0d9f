"""Who is calling: bearer-token authentication and role-typed dependencies."""

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository
from app.auth.oidc import oidc_verifier
from app.auth.principal import AuthSubject, Principal
from app.auth.service import API_KEY, record_key_use
from app.clock import current_time
from app.common.tokens import secret_matches, use_is_due
from app.db import get_db
from app.errors import Forbidden, Unauthorized
from app.security.rate_limit import rate_limits_of, verifies_callers
from app.staff.models import Role
from app.unit_of_work import on_success

log = logging.getLogger(__name__)


class BearerAuthentication(HTTPBearer):
    """The bearer scheme and the authentication behind it as one dependency: FastAPI lists it
    in the OpenAPI document as the `HTTPBearer` security scheme, and solves one dependency per
    request where the scheme and a function needing it were two (docs/performance.md)."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        """Resolve the bearer token (an API key, else an OIDC JWT) to a principal; else a 401.

        Rate limits count here, after verification: a verified request against its staff
        member's quota (429 when spent), a failed one against its client address's
        failed-authentication budget (app/security/rate_limit.py), so no unverified token can
        spend a real caller's quota. A failure past that budget answers 429 instead of 401, and
        so leaves no audit row: this count, not the middleware's earlier look at it, bounds the
        401s of a parallel burst.
        """
        credentials = await super().__call__(request)
        limits = rate_limits_of(request.app)
        # Read directly, not as sub-dependencies: FastAPI's cost per dependency is paid by every
        # request of every authenticated route (docs/performance.md).
        db, now = await get_db(request), await current_time(request)
        try:
            principal = await _principal(request, db, now, credentials)
        except Unauthorized:
            if limits is not None:
                await limits.failed_authentication(request.scope)  # RateLimited past the budget
            raise
        if limits is not None:
            await limits.admit_caller(request.scope, principal.staff_id)
        request.state.principal = principal
        return principal


authenticate = verifies_callers(
    BearerAuthentication(
        auto_error=False,
        scheme_name="HTTPBearer",
        description="An API key (`Authorization: Bearer kap_...`) or, where the service is "
        "configured for single sign-on, an OIDC access token (a JWT) from the identity provider.",
    )
)
"""The dependency every authenticated route has (directly or through a role check)."""


async def _principal(
    request: Request,
    db: AsyncSession,
    now: datetime,
    credentials: HTTPAuthorizationCredentials | None,
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    token = credentials.credentials
    parts = API_KEY.split(token)
    if parts is not None:
        return await _api_key_principal(request, db, now, parts)
    verifier = oidc_verifier(request.app.state)
    if verifier is None:
        raise Unauthorized("The API key is malformed.")
    staff, clinic = await verifier.authenticate(db, token, now)
    return Principal.of(staff, clinic, None)


async def _api_key_principal(
    request: Request, db: AsyncSession, now: datetime, parts: tuple[str, str]
) -> Principal:
    prefix, secret = parts
    holder = await repository.key_by_prefix(db, prefix)
    if holder is None:
        raise Unauthorized("The API key is not valid.")
    clinic_id = holder.clinic.id
    # File a failed attempt on a real key under its clinic's audit trail (see unit_of_work).
    request.state.auth_subject = AuthSubject(clinic_id, None, None)
    if not secret_matches(secret, holder.secret_hash):
        raise Unauthorized("The API key is not valid.")
    request.state.auth_subject = AuthSubject(clinic_id, holder.staff_id, holder.role)
    if not _usable(holder, now):
        raise Unauthorized("The API key is revoked, expired or belongs to an inactive member.")
    if use_is_due(holder.last_used_at, now):
        key_id = holder.key_id

        async def record_use(_: Response, session: AsyncSession) -> None:
            await record_key_use(session, key_id, now)

        on_success(request, record_use)
    return Principal(
        holder.staff_id,
        clinic_id,
        holder.role,
        holder.key_id,
        holder.clinic,
        prescriber=holder.prescriber,
    )


def _usable(holder: repository.KeyHolder, now: datetime) -> bool:
    if holder.revoked_at is not None or not holder.active:
        return False
    return holder.expires_at is None or holder.expires_at > now


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only the given roles (403 otherwise)."""

    async def check_role(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"This needs the role {' or '.join(r.value for r in roles)}.")
        return principal

    return check_role


AnyStaff = Annotated[Principal, Depends(authenticate)]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
Clinical = Annotated[Principal, Depends(require_roles(Role.admin, Role.clinician))]
