"""Client rules: valid references and dates, and archiving instead of deleting."""

import uuid
from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.auth.principal import Principal
from app.clients import repository
from app.clients.events import client_data
from app.clients.models import Client, ClientStage
from app.clients.schemas import ClientCreate, ClientUpdate
from app.common.scope import ROLES_WITHOUT_CLINICAL_ACCESS
from app.errors import Conflict, InvalidTransition, NotFound, ValidationFailed, invalid_reference
from app.events.catalogue import EventType
from app.events.service import emit
from app.screenings import service as screenings_service
from app.screenings.rules import MedicalClearance
from app.staff import repository as staff_repository
from app.staff.models import Role

EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class ClientNotFound(NotFound):
    title = "Client not found"


class ClientHasScheduledSessions(Conflict):
    code, title = "client_has_scheduled_sessions", "The client still has scheduled sessions"


async def get_client(
    db: AsyncSession, principal: Principal, client_id: uuid.UUID, now: datetime
) -> tuple[Client, ClientStage]:
    found = await repository.get(db, principal.clinic_id, client_id, principal.policy, now)
    if found is None:
        raise ClientNotFound(f"No client {client_id} in this clinic.")
    return found


async def known_client(db: AsyncSession, principal: Principal, client_id: uuid.UUID) -> None:
    """404 unless the clinic has this client: for reads that show none of the client's own
    fields and derive its stage from sessions they load anyway (the journey)."""
    if not await repository.client_exists(db, principal.clinic_id, client_id):
        raise ClientNotFound(f"No client {client_id} in this clinic.")


async def medical_clearances(
    db: AsyncSession, principal: Principal, client_ids: Collection[uuid.UUID], now: datetime
) -> dict[uuid.UUID, MedicalClearance]:
    """The clients' medical clearance as of now for a clinical role, in one statement; nothing
    (and nothing read) for a role that may not see it."""
    if principal.role.value in ROLES_WITHOUT_CLINICAL_ACCESS:
        return {}
    return await screenings_service.clearances_at(db, principal.clinic_id, client_ids, now)


def _check_birth_date(value: date, now: datetime) -> None:
    if not EARLIEST_BIRTH_DATE <= value <= now.date():
        raise ValidationFailed(
            "date_of_birth must be between 1900-01-01 and today.",
            loc=("body", "date_of_birth"),
            kind="date_out_of_range",
        )


async def _check_clinician(db: AsyncSession, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> None:
    staff = await staff_repository.get(db, clinic_id, staff_id)
    if staff is None or not staff.active or staff.role is Role.scheduler:
        raise invalid_reference("primary_clinician_id", "an active clinician or admin")


async def create_client(
    db: AsyncSession, principal: Principal, body: ClientCreate, now: datetime
) -> Client:
    _check_birth_date(body.date_of_birth, now)
    if body.primary_clinician_id is not None:
        await _check_clinician(db, principal.clinic_id, body.primary_clinician_id)
    client = Client(clinic_id=principal.clinic_id, **body.model_dump())
    db.add(client)
    await db.flush()
    note_change("client", client.id, sorted(body.model_fields_set))
    await emit(db, client.clinic_id, EventType.client_created, client_data(client), now)
    return client


async def update_client(
    db: AsyncSession, client: Client, body: ClientUpdate, now: datetime
) -> Client:
    changes = body.changes()
    if changes.get("date_of_birth") is not None:
        _check_birth_date(changes["date_of_birth"], now)
    if changes.get("primary_clinician_id") is not None:
        await _check_clinician(db, client.clinic_id, changes["primary_clinician_id"])
    for name, value in changes.items():
        setattr(client, name, value)
    await db.flush()
    note_change("client", client.id, sorted(changes))
    if changes:
        await emit(db, client.clinic_id, EventType.client_updated, client_data(client), now)
    return client


async def archive_client(db: AsyncSession, client: Client, now: datetime) -> Client:
    """Archive a client with nothing left scheduled; their record stays, hidden from lists."""
    if client.archived:
        raise InvalidTransition("The client is already archived.")
    if await repository.has_scheduled_sessions(db, client):
        raise ClientHasScheduledSessions("Cancel or complete their scheduled sessions first.")
    client.archived = True
    await db.flush()
    note_change("client", client.id, ["archived"])
    await emit(db, client.clinic_id, EventType.client_archived, client_data(client), now)
    return client


async def unarchive_client(db: AsyncSession, client: Client, now: datetime) -> Client:
    if not client.archived:
        raise InvalidTransition("The client is not archived.")
    client.archived = False
    await db.flush()
    note_change("client", client.id, ["archived"])
    await emit(db, client.clinic_id, EventType.client_updated, client_data(client), now)
    return client
