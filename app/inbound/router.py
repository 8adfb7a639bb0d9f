"""/api/v1/scheduling-integrations (admin), /api/v1/inbound/{id} (provider-signed) and
/api/v1/unmatched-bookings (staff)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.audit.trail import note_change
from app.auth.dependencies import Admin, AnyStaff
from app.auth.principal import AuthSubject
from app.clock import Now
from app.common.crypto import SecretBox
from app.common.http import IfMatch, check_version, set_etag
from app.common.pagination import Pagination, split_page
from app.common.schemas import Page
from app.db import DbSession
from app.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    PreparationRequired,
    ScheduleConflict,
    Unauthorized,
    ValidationFailed,
    VersionConflict,
    responses_for,
)
from app.idempotency.dependencies import idempotent, replay_responses
from app.inbound import read_models, repository
from app.inbound.models import UnmatchedStatus
from app.inbound.schemas import (
    InboundAccepted,
    InboundDeliveryRead,
    IntegrationCreate,
    IntegrationRead,
    IntegrationUpdate,
    ResolveBody,
    UnmatchedBookingRead,
)
from app.inbound.service import deliveries, integrations, unmatched
from app.unit_of_work import UnitOfWorkRoute

integrations_router = APIRouter(
    prefix="/api/v1/scheduling-integrations",
    tags=["scheduling-integrations"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized, Forbidden),
)
inbound_router = APIRouter(prefix="/api/v1/inbound", tags=["inbound"], route_class=UnitOfWorkRoute)
unmatched_router = APIRouter(
    prefix="/api/v1/unmatched-bookings",
    tags=["unmatched-bookings"],
    route_class=UnitOfWorkRoute,
    responses=responses_for(Unauthorized),
)


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


# --- Integrations ---------------------------------------------------------------------------


@integrations_router.post(
    "",
    status_code=201,
    response_model=IntegrationRead,
    dependencies=[idempotent(Admin)],
    responses=replay_responses(responses_for(ValidationFailed)),
)
async def create_scheduling_integration(
    body: IntegrationCreate, principal: Admin, db: DbSession, request: Request, response: Response
) -> IntegrationRead:
    """Connect Cal.com, Calendly or your own scheduler (admin); point its webhook at
    `inbound_url`. The signing secret is write-only."""
    integration = await integrations.create_integration(
        db, principal.clinic_id, body, _box(request)
    )
    response.headers["Location"] = f"/api/v1/scheduling-integrations/{integration.id}"
    set_etag(response, integration.version)
    return read_models.integration_read(integration)


@integrations_router.get("", response_model=Page[IntegrationRead])
async def list_scheduling_integrations(
    principal: Admin, db: DbSession, page: Pagination
) -> Page[IntegrationRead]:
    """Your clinic's scheduling integrations, oldest first (admin)."""
    rows = await repository.integrations_page(db, principal.clinic_id, page)
    items, cursor = split_page(rows, page, lambda i: (i.created_at, i.id))
    return Page[IntegrationRead](
        items=[read_models.integration_read(i) for i in items], next_cursor=cursor
    )


@integrations_router.get(
    "/{integration_id}", response_model=IntegrationRead, responses=responses_for(NotFound)
)
async def get_scheduling_integration(
    integration_id: uuid.UUID, principal: Admin, db: DbSession, response: Response
) -> IntegrationRead:
    """One scheduling integration (admin); its secret is never shown."""
    integration = await integrations.get_integration(db, principal.clinic_id, integration_id)
    set_etag(response, integration.version)
    return read_models.integration_read(integration)


@integrations_router.patch(
    "/{integration_id}",
    response_model=IntegrationRead,
    responses=responses_for(NotFound, ValidationFailed, VersionConflict),
)
async def update_scheduling_integration(
    integration_id: uuid.UUID,
    body: IntegrationUpdate,
    principal: Admin,
    db: DbSession,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> IntegrationRead:
    """Rename it, change its event type map or defaults, or replace its secret (admin)."""
    integration = await integrations.get_integration(db, principal.clinic_id, integration_id)
    check_version(if_match, integration.version)
    integration = await integrations.update_integration(db, integration, body, _box(request))
    set_etag(response, integration.version)
    return read_models.integration_read(integration)


@integrations_router.delete("/{integration_id}", status_code=204, responses=responses_for(NotFound))
async def delete_scheduling_integration(
    integration_id: uuid.UUID, principal: Admin, db: DbSession, now: Now
) -> None:
    """Stop accepting its deliveries (admin); its sessions and history stay."""
    integration = await integrations.get_integration(db, principal.clinic_id, integration_id)
    await integrations.delete_integration(db, integration, now)


@integrations_router.get(
    "/{integration_id}/deliveries",
    response_model=Page[InboundDeliveryRead],
    responses=responses_for(NotFound),
)
async def list_inbound_deliveries(
    integration_id: uuid.UUID, principal: Admin, db: DbSession, page: Pagination
) -> Page[InboundDeliveryRead]:
    """Everything the provider sent, oldest first, with what processing made of it (admin);
    kept, and listed, after the integration is deleted."""
    integration = await integrations.get_integration(
        db, principal.clinic_id, integration_id, include_deleted=True
    )
    rows = await repository.deliveries_page(db, integration, page)
    items, cursor = split_page(rows, page, lambda d: (d.received_at, d.id))
    return Page[InboundDeliveryRead](
        items=[InboundDeliveryRead.model_validate(d) for d in items], next_cursor=cursor
    )


# --- The provider's endpoint ----------------------------------------------------------------

INBOUND_BODY = {
    "requestBody": {
        "required": True,
        "description": "The provider's raw webhook body, verified byte for byte.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@inbound_router.post(
    "/{integration_id}",
    status_code=202,
    response_model=InboundAccepted,
    openapi_extra=INBOUND_BODY,
    responses=responses_for(
        deliveries.SignatureRejected,
        deliveries.PayloadRejected,
        deliveries.InboundIntegrationNotFound,
        deliveries.IntegrationGone,
    ),
)
async def receive_inbound_delivery(
    integration_id: uuid.UUID, request: Request, db: DbSession, now: Now
) -> InboundAccepted:
    """A provider's webhook. No bearer token: the provider's signature on the raw body is
    checked (Cal.com `X-Cal-Signature-256`, Calendly `Calendly-Webhook-Signature`, standard
    `webhook-signature`), the delivery is stored, and it is applied shortly after. Sending the
    same delivery again is harmless."""
    integration = await deliveries.integration_for_delivery(db, integration_id)
    request.state.auth_subject = AuthSubject(integration.clinic_id, None, None)
    body = await request.body()
    delivery, duplicate = await deliveries.receive(
        db, integration, body, request.headers, _box(request), now
    )
    if not duplicate:
        note_change("inbound_delivery", delivery.id, ["status"])
    return InboundAccepted(delivery_id=delivery.id, status=delivery.status, duplicate=duplicate)


# --- Unmatched bookings ---------------------------------------------------------------------


def _unmatched(review: object, response: Response | None = None) -> UnmatchedBookingRead:
    read = UnmatchedBookingRead.model_validate(review)
    if response is not None:
        set_etag(response, read.version)
    return read


@unmatched_router.get("", response_model=Page[UnmatchedBookingRead])
async def list_unmatched_bookings(
    principal: AnyStaff,
    db: DbSession,
    page: Pagination,
    status: Annotated[UnmatchedStatus | None, Query(description="e.g. open")] = None,
    integration_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[UnmatchedBookingRead]:
    """Bookings that could not become sessions, oldest first, with the reason."""
    filters = repository.UnmatchedFilters(status, integration_id)
    rows = await unmatched.list_unmatched(db, principal.clinic_id, filters, page)
    items, cursor = split_page(rows, page, lambda r: (r.created_at, r.id))
    return Page[UnmatchedBookingRead](items=[_unmatched(r) for r in items], next_cursor=cursor)


@unmatched_router.get(
    "/{unmatched_id}", response_model=UnmatchedBookingRead, responses=responses_for(NotFound)
)
async def get_unmatched_booking(
    unmatched_id: uuid.UUID, principal: AnyStaff, db: DbSession, response: Response
) -> UnmatchedBookingRead:
    """One unmatched booking."""
    review = await unmatched.get_unmatched(db, principal.clinic_id, unmatched_id)
    return _unmatched(review, response)


@unmatched_router.post(
    "/{unmatched_id}/resolve",
    response_model=UnmatchedBookingRead,
    responses=responses_for(
        NotFound,
        ValidationFailed,
        InvalidTransition,
        ScheduleConflict,
        PreparationRequired,
        unmatched.BookingNotApplicable,
    ),
)
async def resolve_unmatched_booking(
    unmatched_id: uuid.UUID,
    body: ResolveBody,
    principal: AnyStaff,
    db: DbSession,
    now: Now,
    response: Response,
) -> UnmatchedBookingRead:
    """Apply the booking for the client you choose (and, optionally, clinician and kind).
    Every scheduling rule still holds; later reschedules of it follow your choice."""
    review = await unmatched.get_unmatched(db, principal.clinic_id, unmatched_id)
    review = await unmatched.resolve(db, principal, review, body, now)
    return _unmatched(review, response)


@unmatched_router.post(
    "/{unmatched_id}/dismiss",
    response_model=UnmatchedBookingRead,
    responses=responses_for(NotFound, InvalidTransition),
)
async def dismiss_unmatched_booking(
    unmatched_id: uuid.UUID, principal: AnyStaff, db: DbSession, now: Now, response: Response
) -> UnmatchedBookingRead:
    """Decide the booking will not become a session; it stays on record."""
    review = await unmatched.get_unmatched(db, principal.clinic_id, unmatched_id)
    review = await unmatched.dismiss(db, principal, review, now)
    return _unmatched(review, response)
