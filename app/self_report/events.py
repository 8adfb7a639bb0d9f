"""`assessment_request.completed`: ids and the version only, never an answer or a score."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.catalogue import EventType
from app.events.service import emit
from app.self_report.models import AssessmentRequest


async def emit_completed(db: AsyncSession, request: AssessmentRequest, now: datetime) -> None:
    """In the transaction that recorded the client's answers."""
    data = {
        "assessment_request_id": str(request.id),
        "client_id": str(request.client_id),
        "assessment_id": str(request.assessment_id),
        "session_id": str(request.session_id) if request.session_id else None,
        "version": request.version,
    }
    await emit(db, request.clinic_id, EventType.assessment_request_completed, data, now)
