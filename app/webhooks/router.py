"""/api/v1/webhook-endpoints (admin)."""

import uuid

from fastapi import APIRouter, Request, Response

from app.auth.dependencies import Admin
from app.clock import Now
from app.common.crypto import SecretBox
from app.common.http import IfMatch, check_version, set_etag
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
from app.config import Settings
from app.db import DbSession
from app.errors import (
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
    VersionConflict,
    responses_for,
)
from app.idempotency.dependencies import idempotent, replay_responses
from app.unit_of_work import UnitOfWorkRoute
from app.webhooks import read_models, repository, service
from app.webhooks.schemas import (
    DeliveryRead,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
)
from app.webhooks.ssrf import AllowedHosts

router = APIRouter(
    prefix="/api/v1/webhook-endpoints",
    tags=["webhooks"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden),
)


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def _allowed(request: Request) -> AllowedHosts:
    settings: Settings = request.app.state.settings
    return AllowedHosts.parse(settings.webhook_allowed_hosts)


@router.post(
    "",
    status_code=201,
    response_model=EndpointWithSecret,
    dependencies=[idempotent(Admin, holds_secret=True)],
    responses=replay_responses(responses_for(ValidationFailed), holds_secret=True),
)
async def create_webhook_endpoint(
    body: EndpointCreate, principal: Admin, db: DbSession, request: Request, response: Response
) -> EndpointWithSecret:
    """Subscribe a URL to events (admin). The signing secret is in this response only."""
    endpoint, secret = await service.create_endpoint(
        db, principal.clinic_id, body, _box(request), _allowed(request)
    )
    response.headers["Location"] = f"/api/v1/webhook-endpoints/{endpoint.id}"
    set_etag(response, endpoint.version)
    return read_models.endpoint_with_secret(endpoint, secret)


@router.get("", response_model=Page[EndpointRead])
async def list_webhook_endpoints(
    principal: Admin, db: DbSession, page: Pagination
) -> Page[EndpointRead]:
    """Your clinic's webhook endpoints (admin). Secrets are never listed."""
    rows = await repository.endpoints_page(db, principal.clinic_id, page)
    items, cursor = split_page(rows, page, lambda e: (e.created_at, e.id))
    return Page[EndpointRead](
        items=[EndpointRead.model_validate(e) for e in items], next_cursor=cursor
    )


@router.get("/{endpoint_id}", response_model=EndpointRead, responses=responses_for(NotFound))
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: Admin, db: DbSession, response: Response
) -> EndpointRead:
    """One webhook endpoint, with why it was disabled if it was (admin)."""
    endpoint = await service.get_endpoint(db, principal.clinic_id, endpoint_id)
    set_etag(response, endpoint.version)
    return EndpointRead.model_validate(endpoint)


@router.patch(
    "/{endpoint_id}",
    response_model=EndpointRead,
    responses=responses_for(NotFound, ValidationFailed, VersionConflict),
)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
    principal: Admin,
    db: DbSession,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> EndpointRead:
    """Change the URL, the event types or the description, or enable/disable it (admin)."""
    endpoint = await service.get_endpoint(db, principal.clinic_id, endpoint_id)
    check_version(if_match, endpoint.version)
    endpoint = await service.update_endpoint(db, endpoint, body, _allowed(request))
    set_etag(response, endpoint.version)
    return EndpointRead.model_validate(endpoint)


@router.delete("/{endpoint_id}", status_code=204, responses=responses_for(NotFound))
async def delete_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: Admin, db: DbSession, now: Now
) -> None:
    """Stop sending to this endpoint (admin). Its delivery history is kept."""
    endpoint = await service.get_endpoint(db, principal.clinic_id, endpoint_id)
    await service.delete_endpoint(db, endpoint, now)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    responses=responses_for(NotFound, VersionConflict),
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID,
    principal: Admin,
    db: DbSession,
    now: Now,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> EndpointWithSecret:
    """A new signing secret (admin); the old one keeps signing beside it for 24 hours."""
    endpoint = await service.get_endpoint(db, principal.clinic_id, endpoint_id)
    check_version(if_match, endpoint.version)
    secret = await service.rotate_secret(db, endpoint, _box(request), now)
    set_etag(response, endpoint.version)
    return read_models.endpoint_with_secret(endpoint, secret)


@router.post(
    "/{endpoint_id}/test",
    status_code=202,
    response_model=DeliveryRead,
    responses=responses_for(NotFound),
)
async def test_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: Admin, db: DbSession, now: Now
) -> DeliveryRead:
    """Queue a signed `webhook.test` event to this endpoint now (admin); follow it in deliveries."""
    endpoint = await service.get_endpoint(db, principal.clinic_id, endpoint_id)
    delivery = await service.queue_test_event(db, endpoint, now)
    return read_models.delivery_read(delivery, "webhook.test", [])


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=Page[DeliveryRead],
    responses=responses_for(NotFound),
)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID, principal: Admin, db: DbSession, page: Pagination
) -> Page[DeliveryRead]:
    """Deliveries to this endpoint, oldest first, each with its attempts (admin)."""
    endpoint = await service.get_endpoint(db, principal.clinic_id, endpoint_id)
    rows, attempts = await repository.deliveries_page(db, endpoint, page)
    items, cursor = split_page(rows, page, lambda row: (row[0].created_at, row[0].id))
    return Page[DeliveryRead](
        items=[read_models.delivery_read(d, event_type, attempts[d.id]) for d, event_type in items],
        next_cursor=cursor,
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/resend",
    response_model=DeliveryRead,
    responses=responses_for(NotFound),
)
async def resend_webhook_delivery(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, principal: Admin, db: DbSession, now: Now
) -> DeliveryRead:
    """Send a delivery again now, with the same webhook-id (admin)."""
    endpoint = await service.get_endpoint(db, principal.clinic_id, endpoint_id)
    delivery = await service.resend(db, endpoint, delivery_id, now)
    event_type, attempts = await repository.event_type_and_attempts(db, delivery)
    return read_models.delivery_read(delivery, event_type, attempts)
