"""Who is calling: bearer-token authentication and role-typed dependencies."""

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from app.auth.keys import secret_matches, split_key
from app.auth.models import ApiKey
from app.clinics.models import Clinic
from app.clock import Now
from app.db import DbSession
from app.errors import Forbidden, Unauthorized
from app.staff.models import Role, Staff
from app.windows.policy import WindowPolicy

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer kap_...`")


@dataclass(frozen=True)
class Principal:
    """The authenticated staff member, their clinic and that clinic's settings for this request."""

    staff_id: uuid.UUID
    clinic_id: uuid.UUID
    role: Role
    api_key_id: uuid.UUID
    clinic: Clinic

    @property
    def policy(self) -> WindowPolicy:
        return WindowPolicy.from_clinic(self.clinic)


async def authenticate(
    request: Request,
    db: DbSession,
    now: Now,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Resolve the bearer API key to a principal; anything wrong is a 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.")
    parts = split_key(credentials.credentials)
    if parts is None:
        raise Unauthorized("The API key is malformed.")
    prefix, secret = parts
    row = (
        await db.execute(
            select(ApiKey, Staff, Clinic)
            .join(Staff, Staff.id == ApiKey.staff_id)
            .join(Clinic, Clinic.id == ApiKey.clinic_id)
            .where(ApiKey.prefix == prefix)
        )
    ).first()
    if row is None or not secret_matches(secret, row.ApiKey.secret_hash):
        raise Unauthorized("The API key is not valid.")
    key, staff, clinic = row.ApiKey, row.Staff, row.Clinic
    if not _usable(key, staff, now):
        raise Unauthorized("The API key is revoked, expired or belongs to an inactive member.")
    principal = Principal(staff.id, clinic.id, staff.role, key.id, clinic)
    request.state.principal = principal
    return principal


def _usable(key: ApiKey, staff: Staff, now: datetime) -> bool:
    if key.revoked_at is not None or not staff.active:
        return False
    return key.expires_at is None or key.expires_at > now


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
