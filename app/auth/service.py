"""Issuing and revoking API keys."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.auth import repository
from app.auth.models import ApiKey
from app.common.pagination import PageParams
from app.common.tokens import LAST_USED_RESOLUTION, TokenFormat
from app.errors import NotFound, ValidationFailed
from app.staff.models import Staff

API_KEY = TokenFormat("kap")  # `Authorization: Bearer kap_<prefix>_<secret>`


class ApiKeyNotFound(NotFound):
    title = "API key not found"


async def issue_key(
    db: AsyncSession,
    staff: Staff,
    name: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key for `staff`; returns the row and the plaintext (never stored)."""
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed(
            "expires_at must be in the future.", loc=("body", "expires_at"), kind="in_the_past"
        )
    generated = API_KEY.generate()
    key = ApiKey(
        clinic_id=staff.clinic_id,
        staff_id=staff.id,
        name=name,
        prefix=generated.prefix,
        secret_hash=generated.secret_hash,
        created_at=now,
        expires_at=expires_at,
    )
    db.add(key)
    await db.flush()
    note_change("api_key", key.id, ["created"])
    return key, generated.plaintext


async def list_keys(db: AsyncSession, clinic_id: uuid.UUID, page: PageParams) -> Sequence[ApiKey]:
    return await repository.list_page(db, clinic_id, page)


async def revoke_key(
    db: AsyncSession, clinic_id: uuid.UUID, key_id: uuid.UUID, now: datetime
) -> None:
    """Revoke a key; revoking twice is harmless."""
    key = await repository.get(db, clinic_id, key_id)
    if key is None:
        raise ApiKeyNotFound(f"No API key {key_id} in this clinic.")
    if key.revoked_at is None:
        key.revoked_at = now
        note_change("api_key", key.id, ["revoked_at"])
    await db.flush()


async def record_key_use(db: AsyncSession, key_id: uuid.UUID, now: datetime) -> None:
    """Set the key's `last_used_at` in the request's transaction, just before commit, unless a
    concurrent request already did within LAST_USED_RESOLUTION."""
    await repository.record_key_use(db, key_id, now, now - LAST_USED_RESOLUTION)
