"""Idempotency-Key handling for POSTs: replay, mismatch (422) and in-progress (409).

The key is claimed in its own short transaction so a concurrent duplicate can see it; the
response is stored in the request's transaction, so the write and its replayable outcome
commit together or not at all.
"""

import hashlib
import json
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import AnyStaff, Principal
from app.clock import Now
from app.common.crypto import SecretBox
from app.config import Settings
from app.db import DbSession, begin_write, in_clinic, insert_if_absent, new_id
from app.errors import IdempotencyKeyInProgress, IdempotencyKeyReused
from app.idempotency.models import IdempotencyRecord
from app.unit_of_work import EarlyResponse, on_failure, on_success

REPLAYED_HEADERS = ("location", "etag", "content-type")


def _request_hash(request: Request, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


async def _claim(
    db: AsyncSession,
    principal: Principal,
    key: str,
    request_hash: str,
    now: datetime,
    ttl: timedelta,
) -> tuple[IdempotencyRecord, bool]:
    """Insert the key as in progress unless it exists; return the row and whether it is ours."""
    claim_id = new_id()
    await insert_if_absent(
        db,
        IdempotencyRecord,
        {
            "id": claim_id,
            "clinic_id": principal.clinic_id,
            "staff_id": principal.staff_id,
            "key": key,
            "request_hash": request_hash,
            "locked_at": now,
            "expires_at": now + ttl,
            "completed": False,
        },
        ["clinic_id", "staff_id", "key"],
    )
    record = (
        await db.execute(
            select(IdempotencyRecord)
            .where(
                in_clinic(IdempotencyRecord, principal.clinic_id),
                IdempotencyRecord.staff_id == principal.staff_id,
                IdempotencyRecord.key == key,
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return record, record.id == claim_id


def _replay(record: IdempotencyRecord, box: SecretBox) -> Response:
    headers = dict(record.response_headers or {})
    headers["Idempotent-Replayed"] = "true"
    return Response(
        content=box.open_bytes(record.response_body) if record.response_body else b"",
        status_code=record.response_status or 200,
        headers=headers,
    )


def _resume_existing(
    record: IdempotencyRecord,
    request_hash: str,
    now: datetime,
    ttl: timedelta,
    lease: timedelta,
    box: SecretBox,
) -> None:
    """Decide what a repeated key means: take it over, refuse it, or replay its response."""
    if record.expires_at <= now:
        # An expired record is as good as absent: this request starts afresh under the key.
        record.request_hash, record.completed, record.response_body = request_hash, False, None
        record.response_status, record.response_headers = None, None
        record.locked_at, record.expires_at = now, now + ttl
    elif record.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was first used with a different request body or path."
        )
    elif record.completed:
        raise EarlyResponse(_replay(record, box))
    elif record.locked_at > now - lease:
        raise IdempotencyKeyInProgress("Retry when the first request has finished.")
    else:
        record.locked_at = now  # the first attempt died mid-request; this one takes over


async def guard_idempotency(
    request: Request,
    db: DbSession,
    principal: AnyStaff,
    now: Now,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Makes a POST safe to retry: the same key and body replay the response.",
        ),
    ] = None,
) -> None:
    """Dependency for POST routes; a no-op without the header."""
    if idempotency_key is None:
        return
    settings: Settings = request.app.state.settings
    # Stored responses can hold PHI or a secret shown once (API keys, webhook secrets): sealed.
    box: SecretBox = request.app.state.secret_box
    request_hash = _request_hash(request, await request.body())
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    record, fresh = await _claim(db, principal, idempotency_key, request_hash, now, ttl)
    if not fresh:
        lease = timedelta(seconds=settings.idempotency_lease_seconds)
        _resume_existing(record, request_hash, now, ttl, lease, box)
    # Make the claim visible to concurrent duplicates, then carry on in a fresh transaction.
    await db.commit()
    await begin_write(db)
    record_id = record.id

    async def store_response(response: Response, session: AsyncSession) -> None:
        row = await session.get(IdempotencyRecord, record_id)
        if row is None or response.status_code >= 400:
            return
        row.completed = True
        row.response_status = response.status_code
        row.response_body = box.seal_bytes(bytes(response.body))
        row.response_headers = {
            name: value for name, value in response.headers.items() if name in REPLAYED_HEADERS
        }

    async def release_key(session: AsyncSession) -> None:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.id == record_id, IdempotencyRecord.completed.is_(False)
            )
        )

    on_success(request, store_response)
    on_failure(request, release_key)


Idempotent = Depends(guard_idempotency)


async def purge_expired(db: AsyncSession, now: datetime) -> int:
    """Delete expired records: they replay nothing any more, and their sealed responses may
    hold PHI that should not outlive its purpose."""
    result = await db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
