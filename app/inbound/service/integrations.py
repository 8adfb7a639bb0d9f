"""Managing scheduling integrations: sealed secrets, checked defaults, soft deletion."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.common.crypto import SecretBox
from app.errors import NotFound, ValidationFailed, invalid_reference
from app.inbound import repository
from app.inbound.models import SchedulingIntegration
from app.inbound.providers import Provider
from app.inbound.schemas import IntegrationCreate, IntegrationUpdate, check_secret
from app.sessions.enums import SessionKind
from app.staff import repository as staff_repository
from app.staff.models import Role


class IntegrationNotFound(NotFound):
    title = "Scheduling integration not found"


async def get_integration(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    integration_id: uuid.UUID,
    *,
    include_deleted: bool = False,
) -> SchedulingIntegration:
    integration = await repository.integration(
        db, clinic_id, integration_id, include_deleted=include_deleted
    )
    if integration is None:
        raise IntegrationNotFound(f"No scheduling integration {integration_id} in this clinic.")
    return integration


async def _check_defaults(db: AsyncSession, integration: SchedulingIntegration) -> None:
    if integration.default_clinician_id is not None:
        staff = await staff_repository.get(
            db, integration.clinic_id, integration.default_clinician_id
        )
        if staff is None or not staff.active or staff.role is Role.scheduler:
            raise invalid_reference("default_clinician_id", "an active clinician or admin")
    maps_doses = SessionKind.ketamine.value in integration.event_type_map.values()
    if maps_doses and integration.default_route is None:
        raise ValidationFailed(
            "Mapping an event type to ketamine sessions needs a default_route.",
            loc=("body", "default_route"),
            kind="missing",
        )


async def create_integration(
    db: AsyncSession, clinic_id: uuid.UUID, body: IntegrationCreate, box: SecretBox
) -> SchedulingIntegration:
    integration = SchedulingIntegration(
        clinic_id=clinic_id,
        provider=body.provider.value,
        name=body.name,
        secret_ciphertext=box.seal(body.signing_secret.get_secret_value()),
        event_type_map={key: kind.value for key, kind in body.event_type_map.items()},
        default_clinician_id=body.default_clinician_id,
        default_route=body.default_route.value if body.default_route else None,
    )
    await _check_defaults(db, integration)
    db.add(integration)
    await db.flush()
    note_change("scheduling_integration", integration.id, sorted(body.model_fields_set))
    return integration


async def update_integration(
    db: AsyncSession, integration: SchedulingIntegration, body: IntegrationUpdate, box: SecretBox
) -> SchedulingIntegration:
    changes = body.changes()
    if body.signing_secret is not None:
        secret = body.signing_secret.get_secret_value()
        try:
            check_secret(Provider(integration.provider), secret)
        except ValueError as exc:
            raise ValidationFailed(
                str(exc), loc=("body", "signing_secret"), kind="invalid_secret"
            ) from exc
        integration.secret_ciphertext = box.seal(secret)
        del changes["signing_secret"]
    if body.event_type_map is not None:
        changes["event_type_map"] = {k: v.value for k, v in body.event_type_map.items()}
    if body.default_route is not None:
        changes["default_route"] = body.default_route.value
    for name, value in changes.items():
        setattr(integration, name, value)
    await _check_defaults(db, integration)
    await db.flush()
    note_change("scheduling_integration", integration.id, sorted(body.model_fields_set))
    return integration


async def delete_integration(
    db: AsyncSession, integration: SchedulingIntegration, now: datetime
) -> None:
    """Refuse its deliveries from now on (410, which makes Calendly drop the subscription);
    what it booked and everything it received stay on record."""
    integration.deleted_at = now
    await db.flush()
    note_change("scheduling_integration", integration.id, ["deleted_at"])
