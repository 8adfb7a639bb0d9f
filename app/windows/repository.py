"""Loads the facts the window rule needs, for a batch of clients in one query."""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import in_clinic
from app.sessions.enums import SessionKind
from app.sessions.models import ClinicalSession
from app.windows.rules import DoseFacts, IntegrationFacts, dose_facts, integration_facts


@dataclass
class ClientFacts:
    """One client's doses and integration sessions, all statuses."""

    doses: list[DoseFacts] = field(default_factory=list)
    integrations: list[IntegrationFacts] = field(default_factory=list)


async def facts_for_clients(
    db: AsyncSession, clinic_id: uuid.UUID, client_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ClientFacts]:
    """Doses and integration sessions of the given clients, in one round trip."""
    ids = set(client_ids)
    facts: dict[uuid.UUID, ClientFacts] = defaultdict(ClientFacts)
    if not ids:
        return facts
    s = ClinicalSession
    rows = await db.execute(
        select(
            s.id,
            s.client_id,
            s.kind,
            s.status,
            s.route,
            s.starts_at,
            s.ends_at,
            s.ended_at,
            s.ketamine_session_id,
        ).where(
            in_clinic(s, clinic_id),
            s.client_id.in_(ids),
            s.kind.in_((SessionKind.ketamine, SessionKind.integration)),
        )
    )
    for row in rows:
        client = facts[row.client_id]
        if row.kind is SessionKind.ketamine:
            client.doses.append(dose_facts(row))
        else:
            client.integrations.append(integration_facts(row))
    return facts
