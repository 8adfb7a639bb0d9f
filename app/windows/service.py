"""Evaluates sessions against the window rule, for reads of any shape."""

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.sessions.enums import SessionKind
from app.sessions.models import ClinicalSession
from app.windows import rules
from app.windows.policy import WindowPolicy
from app.windows.repository import ClientFacts, facts_for_page
from app.windows.rules import (
    DoseFacts,
    DoseIntegration,
    IntegrationWindow,
    dose_facts,
    evaluate_dose,
    evaluate_integration,
    integration_facts,
)

Evaluation = DoseIntegration | IntegrationWindow | None


def evaluate(
    session: ClinicalSession,
    facts: ClientFacts,
    policy: WindowPolicy,
    now: datetime,
    windows: Mapping[uuid.UUID, IntegrationWindow] | None = None,
    anchors: Mapping[uuid.UUID, uuid.UUID | None] | None = None,
) -> Evaluation:
    """The kind-specific evaluation of one session: K.integration, I.window, or None.

    `windows` (from `integration_windows(facts, policy)`) and `anchors` (the anchoring dose
    of each integration, `rules.integration_anchors`) save re-evaluating the client's
    integrations for every dose when many sessions of one client are evaluated.
    """
    if session.kind is SessionKind.ketamine:
        if anchors is None and windows is not None:
            anchors = {id_: window.ketamine_session_id for id_, window in windows.items()}
        return evaluate_dose(
            dose_facts(session), facts.integrations, facts.doses, policy, now, anchors
        )
    if session.kind is SessionKind.integration:
        found = windows.get(session.id) if windows is not None else None
        if found is not None:
            return found
        return evaluate_integration(integration_facts(session), facts.doses, policy)
    return None


def integration_windows(
    facts: ClientFacts, policy: WindowPolicy
) -> dict[uuid.UUID, IntegrationWindow]:
    """I.window of each of the client's integrations that can count for a dose, once each."""
    return rules.integration_windows(facts.integrations, facts.doses, policy)


async def evaluate_all(
    db: AsyncSession,
    clinic_id: uuid.UUID,
    sessions: Sequence[ClinicalSession],
    policy: WindowPolicy,
    now: datetime,
) -> dict[uuid.UUID, Evaluation]:
    """Evaluations for a page of sessions, loading what can decide them in one query
    (`facts_for_page`); each client's integrations are evaluated once, however many of its
    sessions are on the page."""
    facts = await facts_for_page(db, clinic_id, sessions)
    # A dose asks which of its client's integrations that may anchor it it anchors: find their
    # anchors once for all the client's doses on the page. An integration alone needs its own.
    doses: dict[uuid.UUID, list[DoseFacts]] = defaultdict(list)
    for s in sessions:
        if s.kind is SessionKind.ketamine:
            doses[s.client_id].append(dose_facts(s))
    anchors = {
        client_id: rules.integration_anchors(
            facts[client_id].integrations, facts[client_id].doses, client_doses
        )
        for client_id, client_doses in doses.items()
    }
    return {
        s.id: evaluate(s, facts[s.client_id], policy, now, anchors=anchors.get(s.client_id))
        for s in sessions
    }
