"""Recording medical screenings, and a client's medical clearance at an instant.

`clearance_at` and `clearances_at` are the one way to ask whether a client is medically
cleared: the dosing gate and the client reads both call them.
"""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.auth.prescribers import require_prescriber
from app.auth.principal import Principal
from app.clients import repository as clients_repository
from app.clients.models import Client
from app.common.pagination import PageParams
from app.errors import NotFound, ValidationFailed
from app.screenings import repository, rules
from app.screenings.models import Screening
from app.screenings.rules import Decision, MedicalClearance
from app.screenings.schemas import ScreeningCreate


class ClientNotFound(NotFound):
    title = "Client not found"


class ScreeningNotFound(NotFound):
    title = "Screening not found"


class OverrideReasonRequired(ValidationFailed):
    code, title = "override_reason_required", "Clearing despite a contraindication needs a reason"


async def client_of_clinic(db: AsyncSession, principal: Principal, client_id: uuid.UUID) -> Client:
    client = await clients_repository.client_row(db, principal.clinic_id, client_id)
    if client is None:
        raise ClientNotFound(f"No client {client_id} in this clinic.")
    return client


def check_decider(principal: Principal, body: ScreeningCreate) -> None:
    """A decision other than `pending` is a prescriber's (403 `prescriber_required`)."""
    if body.decision is not Decision.pending:
        require_prescriber(principal, f"decide a screening ({body.decision.value})")


def _check_override(body: ScreeningCreate) -> None:
    present = body.contraindications.present()
    overrides = body.decision is Decision.cleared and bool(present)
    if overrides and body.override_reason is None:
        raise OverrideReasonRequired(
            f"Clearing a client with {', '.join(present)} needs override_reason.",
            loc=("body", "override_reason"),
            kind="missing",
        )
    if not overrides and body.override_reason is not None:
        raise ValidationFailed(
            "override_reason is only for clearing a client despite a contraindication.",
            loc=("body", "override_reason"),
            kind="override_reason_not_applicable",
        )


async def record(
    db: AsyncSession, principal: Principal, client: Client, body: ScreeningCreate, now: datetime
) -> Screening:
    """Store one screening, valid for the clinic's `screening_valid_days` as of now."""
    check_decider(principal, body)
    if body.screened_at > now:
        raise ValidationFailed(
            "screened_at cannot be in the future.",
            loc=("body", "screened_at"),
            kind="in_the_future",
        )
    _check_override(body)
    pressure = body.blood_pressure
    decided = body.decision is not Decision.pending
    screening = Screening(
        clinic_id=principal.clinic_id,
        client_id=client.id,
        screened_at=body.screened_at,
        screened_by=principal.staff_id,
        contraindications=body.contraindications.model_dump(),
        systolic=pressure.systolic if pressure else None,
        diastolic=pressure.diastolic if pressure else None,
        decision=body.decision,
        decided_by=principal.staff_id if decided else None,
        override_reason=body.override_reason,
        valid_until=rules.valid_until(body.screened_at, principal.clinic.screening_valid_days),
        notes=body.notes,
        created_at=now,
    )
    db.add(screening)
    await db.flush()
    note_change("screening", screening.id, sorted(body.model_fields_set))
    return screening


async def get_one(
    db: AsyncSession, principal: Principal, client: Client, screening_id: uuid.UUID
) -> Screening:
    screening = await repository.get(db, principal.clinic_id, client.id, screening_id)
    if screening is None:
        raise ScreeningNotFound(f"No screening {screening_id} for this client.")
    return screening


async def list_page(
    db: AsyncSession, principal: Principal, client: Client, page: PageParams
) -> Sequence[Screening]:
    return await repository.list_page(db, principal.clinic_id, client.id, page)


async def clearances_at(
    db: AsyncSession, clinic_id: uuid.UUID, client_ids: Collection[uuid.UUID], at: datetime
) -> dict[uuid.UUID, MedicalClearance]:
    """Each client's medical clearance at `at`, in one statement however many clients."""
    facts = await repository.governing_facts(db, clinic_id, client_ids, at)
    return {client_id: rules.clearance_at(facts.get(client_id, ()), at) for client_id in client_ids}


async def clearance_at(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID, at: datetime
) -> MedicalClearance:
    """The client's medical clearance at `at` (`.cleared` is what the dosing gate asks)."""
    return (await clearances_at(db, clinic_id, [client_id], at))[client_id]


async def client_screening_facts(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> list[rules.ScreeningFact]:
    """Every screening of the client as the clearance rule reads it, for callers that ask
    `rules.clearance_at` about several instants (one query for a journey's scheduled doses)."""
    return await repository.client_facts(db, clinic_id, client_id)
