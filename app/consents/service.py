"""Recording consents, withdrawing them, and which are in force at an instant.

A consent is never deleted or rewritten: its signed terms stay as recorded, and a withdrawal is
recorded on it (docs/decisions.md, "Consent"). `kinds_in_force` is what the dosing gate asks.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change, note_read
from app.auth.principal import Principal
from app.clients import repository as clients_repository
from app.clients.models import Client
from app.common.pagination import PageParams
from app.consents import repository, rules
from app.consents.models import Consent
from app.consents.repository import ConsentFilters
from app.consents.rules import ConsentKind, ConsentStatus
from app.consents.schemas import ConsentCreate
from app.errors import InvalidTransition, NotFound, ValidationFailed


class ClientNotFound(NotFound):
    title = "Client not found"


class ConsentNotFound(NotFound):
    title = "Consent not found"


async def client_of_clinic(db: AsyncSession, principal: Principal, client_id: uuid.UUID) -> Client:
    client = await clients_repository.client_row(db, principal.clinic_id, client_id)
    if client is None:
        raise ClientNotFound(f"No client {client_id} in this clinic.")
    return client


def _check_terms(body: ConsentCreate, now: datetime) -> None:
    if body.signed_at > now:
        raise ValidationFailed(
            "signed_at cannot be in the future.", loc=("body", "signed_at"), kind="in_the_future"
        )
    if body.expires_at is not None and body.expires_at <= body.signed_at:
        raise ValidationFailed(
            "expires_at must be after signed_at.",
            loc=("body", "expires_at"),
            kind="expires_before_signed",
        )


async def record(
    db: AsyncSession, principal: Principal, client: Client, body: ConsentCreate, now: datetime
) -> Consent:
    """Store a signed consent as the caller recorded it."""
    _check_terms(body, now)
    consent = Consent(
        clinic_id=principal.clinic_id,
        client_id=client.id,
        kind=body.kind,
        document_version=body.document_version,
        signed_at=body.signed_at,
        expires_at=body.expires_at,
        recorded_by=principal.staff_id,
        created_at=now,
        updated_at=now,
    )
    db.add(consent)
    await db.flush()
    note_change("consent", consent.id, sorted(body.model_fields_set))
    return consent


async def get_one(
    db: AsyncSession, principal: Principal, client: Client, consent_id: uuid.UUID
) -> Consent:
    consent = await repository.get(db, principal.clinic_id, client.id, consent_id)
    if consent is None:
        raise ConsentNotFound(f"No consent {consent_id} for this client.")
    return consent


async def list_page(
    db: AsyncSession,
    principal: Principal,
    client: Client,
    filters: ConsentFilters,
    page: PageParams,
    now: datetime,
) -> Sequence[Consent]:
    # The client's record is read even when the page is empty: that it holds no consent of a
    # kind is itself something the caller learnt about them.
    note_read("client", client.id)
    return await repository.list_page(db, principal.clinic_id, client.id, filters, page, now)


async def withdraw(
    db: AsyncSession, principal: Principal, consent: Consent, reason: str, now: datetime
) -> Consent:
    """Record the withdrawal at the server's now. Only an active consent can be withdrawn:
    a withdrawn one already is, and an expired one is no longer in force, so withdrawing it
    would change no answer and only hide that it had lapsed."""
    status = rules.status_at(consent, now)
    if status is not ConsentStatus.active:
        raise InvalidTransition(
            f"The consent is {status.value}; only an active consent can be withdrawn."
        )
    consent.withdrawn_at = now
    consent.withdrawn_by = principal.staff_id
    consent.withdrawal_reason = reason
    consent.updated_at = now
    await db.flush()
    note_change("consent", consent.id, ["withdrawal_reason", "withdrawn_at", "withdrawn_by"])
    return consent


async def kinds_in_force(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID, at: datetime
) -> frozenset[ConsentKind]:
    """The kinds of the client's consents in force at `at` (`rules.in_force_at`).

    For the dosing gate. It exposes no consent, so it notes no read: the caller's own audit
    row (the dose it completes or lists) covers the decision."""
    return rules.kinds_in_force(await repository.terms_for_client(db, clinic_id, client_id), at)


async def client_consents(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> Sequence[rules.ConsentTerms]:
    """Every consent of the client, for callers that ask `rules.kinds_in_force` about several
    instants (one query for a journey's scheduled doses)."""
    return await repository.terms_for_client(db, clinic_id, client_id)
