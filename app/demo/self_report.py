"""The demo's self-report links: a client in preparation answered a GAD-7 on their phone the
day after the clinic sent the link, and has a PHQ-9 link still pending.

The answers go through the same service as the form at /r/<token> (app.self_report.service),
so the demo's self-report is scored, stored and evented exactly as a client's would be.
"""

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.scoring import Instrument
from app.auth.principal import Principal
from app.clients.models import Client
from app.self_report import service
from app.self_report.schemas import AssessmentRequestCreate

SENT_BEFORE = timedelta(days=1, hours=2)
ANSWERED_BEFORE = timedelta(hours=3)
PENDING_SENT_BEFORE = timedelta(hours=1)
GAD7_ANSWERS = [2, 1, 2, 1, 1, 2, 1]  # 10: moderate


async def self_reports(
    db: AsyncSession, clinician: Principal, client: Client, now: datetime
) -> None:
    """One completed GAD-7 link and one pending PHQ-9 link for `client`."""
    sent = now - SENT_BEFORE
    body = AssessmentRequestCreate(instrument=Instrument.gad7)
    _, token = await service.create(db, clinician, client, body, sent)
    answered = now - ANSWERED_BEFORE
    holder = await service.find_link(db, token, for_update=True)
    service.ensure_open(holder, answered)
    await service.complete(db, holder, list(GAD7_ANSWERS), answered)
    pending = AssessmentRequestCreate(instrument=Instrument.phq9)
    await service.create(db, clinician, client, pending, now - PENDING_SENT_BEFORE)
