"""Evaluates sessions against the window rule, for reads of any shape."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.sessions.enums import SessionKind
from app.sessions.models import ClinicalSession
from app.windows.policy import WindowPolicy
from app.windows.repository import ClientFacts, facts_for_clients
from app.windows.rules import (
    DoseIntegration,
    IntegrationWindow,
    dose_facts,
    evaluate_dose,
    evaluate_integration,
    integration_facts,
)

Evaluation = DoseIntegration | IntegrationWindow | None


def evaluate(
    session: ClinicalSession, facts: ClientFacts, policy: WindowPolicy, now: datetime
) -> Evaluation:
    """The kind-specific evaluation of one session: K.integration, I.window, or None."""
    if session.kind is SessionKind.ketamine:
        return evaluate_dose(dose_facts(session), facts.integrations, facts.doses, policy, now)
    if session.kind is SessionKind.integration:
        return evaluate_integration(integration_facts(session), facts.doses, policy)
    return None


async def evaluate_all(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    sessions: Sequence[ClinicalSession],
    policy: WindowPolicy,
    now: datetime,
) -> dict[uuid.UUID, Evaluation]:
    """Evaluations for a page of sessions, loading their clients' facts in one query."""
    needing = [s for s in sessions if s.kind is not SessionKind.preparation]
    facts = await facts_for_clients(db, clinic_id, {s.client_id for s in needing})
    return {s.id: evaluate(s, facts[s.client_id], policy, now) for s in sessions}
