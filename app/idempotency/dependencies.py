"""Idempotency-Key handling for POSTs: replay, mismatch (422) and in-progress (409).

The key is claimed in its own short transaction so a concurrent duplicate can see it; the
response is stored in the request's transaction, so the write and its replayable outcome
commit together or not at all. A replay is authorized as a fresh request would be, shows no
more than the caller's current role may see, and never carries a secret shown once
(docs/decisions.md, "Idempotent replays").
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, NoReturn, TypeVar, get_args

from fastapi import Header, Request, Response, params
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.clock import Now
from app.common.crypto import SecretBox
from app.common.scope import ROLES_WITHOUT_CLINICAL_ACCESS
from app.config import Settings
from app.db import DbSession, begin_write
from app.errors import IdempotencyKeyInProgress, IdempotencyKeyReused, responses_for
from app.idempotency import repository
from app.idempotency.exceptions import IdempotentRoleChanged, IdempotentSecretNotReplayed
from app.idempotency.models import IdempotencyRecord
from app.staff.models import Role
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


Authorize = Callable[[Request, AsyncSession, Principal], Awaitable[None]]
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class ReplayPolicy:
    """How one route's stored responses may be replayed."""

    # The response holds a secret shown once (an API key, a signing secret, a feed token):
    # its body is never stored, and a replay is refused without it.
    holds_secret: bool
    # Authorization the route does beyond its role dependency (in its body or its service),
    # run again before anything is replayed.
    authorize: Authorize | None


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
) -> bool:
    """Decide what a repeated key means: take it over, refuse it, or (True) replay it."""
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
        return True
    elif record.locked_at > now - lease:
        raise IdempotencyKeyInProgress("Retry when the first request has finished.")
    else:
        record.locked_at = now  # the first attempt died mid-request; this one takes over
    return False


def _sees_no_less(current: Role, rendered_for: str) -> bool:
    """Whether `current` may see all that a response rendered for `rendered_for` showed.

    The clinical roles see the same bodies on every idempotent route; the scheduler sees less
    (app/common/scope.py). Admin-only routes never get here with another role.
    """
    hidden = ROLES_WITHOUT_CLINICAL_ACCESS
    return current.value == rendered_for or rendered_for in hidden or current.value not in hidden


async def _replay_or_refuse(
    request: Request,
    db: AsyncSession,
    principal: Principal,
    record: IdempotencyRecord,
    policy: ReplayPolicy,
    box: SecretBox,
) -> NoReturn:
    """Answer a completed key, after the checks a fresh request would pass (the role check has
    already run: the guard depends on the route's own role dependency)."""
    if policy.authorize is not None:
        await policy.authorize(request, db, principal)
    location = (record.response_headers or {}).get("location")
    if policy.holds_secret:
        raise IdempotentSecretNotReplayed(location)
    if not _sees_no_less(principal.role, record.response_role):
        raise IdempotentRoleChanged(location)
    raise EarlyResponse(_replay(record, box))


async def _guard(
    request: Request,
    db: AsyncSession,
    principal: Principal,
    now: datetime,
    idempotency_key: str | None,
    policy: ReplayPolicy,
) -> None:
    if idempotency_key is None:
        return
    settings: Settings = request.app.state.settings
    # Stored responses can hold PHI: sealed. Secrets shown once are not stored at all.
    box: SecretBox = request.app.state.secret_box
    request_hash = _request_hash(request, await request.body())
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    record, fresh = await repository.claimed_record(
        db, principal.clinic_id, principal.staff_id, idempotency_key, request_hash, now, now + ttl
    )
    if not fresh:
        lease = timedelta(seconds=settings.idempotency_lease_seconds)
        if _resume_existing(record, request_hash, now, ttl, lease):
            await _replay_or_refuse(request, db, principal, record, policy, box)
    # Make the claim visible to concurrent duplicates, then carry on in a fresh transaction.
    await db.commit()
    await begin_write(db)
    record_id, role = record.id, principal.role

    async def store_response(response: Response, session: AsyncSession) -> None:
        row = await repository.record_by_id(session, record_id)
        if row is None or response.status_code >= 400:
            return
        row.completed = True
        row.response_status = response.status_code
        row.response_role = role.value
        row.response_body = None if policy.holds_secret else box.seal_bytes(bytes(response.body))
        row.response_headers = {
            name: value for name, value in response.headers.items() if name in REPLAYED_HEADERS
        }

    async def release_key(session: AsyncSession) -> None:
        await repository.delete_unfinished(session, record_id)

    on_success(request, store_response)
    on_failure(request, release_key)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a POST safe to retry: the same key and body, within the TTL (24 h), "
        "replay the first response to a caller whose current role may still make the request "
        "and see it (409 `idempotent_role_changed` otherwise); a response holding a secret "
        "shown once is never replayed (409 `idempotent_secret_not_replayed`).",
    ),
]
_POLICIES: dict[Callable[..., Any], ReplayPolicy] = {}


def idempotent(
    caller: Any, *, holds_secret: bool = False, authorize: Authorize | None = None
) -> params.Depends:
    """The Idempotency-Key guard of a POST route, given the route's own caller type
    (`Admin`, `Clinical`, `AnyStaff`); a no-op without the header.

    The guard depends on that same role dependency, which FastAPI runs once per request and
    before the guard, so a replay meets the role check exactly as a fresh request does.
    """
    role_check = next((m for m in get_args(caller)[1:] if isinstance(m, params.Depends)), None)
    if role_check is None:
        raise TypeError("idempotent() takes the route's Annotated caller type, e.g. Admin")
    policy = ReplayPolicy(holds_secret, authorize)

    async def guard_idempotency(
        request: Request,
        db: DbSession,
        now: Now,
        principal: Annotated[Principal, role_check],
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        await _guard(request, db, principal, now, idempotency_key, policy)

    _POLICIES[guard_idempotency] = policy
    return params.Depends(guard_idempotency)


def replay_policy(dependency: Callable[..., Any] | None) -> ReplayPolicy | None:
    """The policy of a guard made by `idempotent`, else None (for checks over all routes)."""
    return _POLICIES.get(dependency) if dependency is not None else None


def body_rule(model: type[Model], rule: Callable[[Principal, Model], None]) -> Authorize:
    """An `authorize` hook applying a route's rule on its body, e.g. the fields a role may write.

    A body that no longer parses is left to the route: it is not the body the key stored.
    """

    async def check(request: Request, _: AsyncSession, principal: Principal) -> None:
        try:
            body = model.model_validate_json(await request.body())
        except ValidationError:
            return
        rule(principal, body)

    return check


def replay_responses(
    responses: dict[int | str, dict[str, Any]], *, holds_secret: bool = False
) -> dict[int | str, dict[str, Any]]:
    """A guarded route's OpenAPI `responses=`: its own, plus the guard's answers."""
    refused = IdempotentSecretNotReplayed if holds_secret else IdempotentRoleChanged
    merged = {status: dict(entry) for status, entry in responses.items()}
    guard = responses_for(IdempotencyKeyReused, IdempotencyKeyInProgress, refused)
    for status, entry in guard.items():
        if status in merged:
            codes = [merged[status]["description"], entry["description"]]
            merged[status]["description"] = " / ".join(filter(None, codes))
        else:
            merged[status] = entry
    return merged
