"""A link row -> its read schema (status as of now), noted in the audit trail as read."""

from datetime import datetime

from app.assessments.scoring import Instrument
from app.audit.trail import note_read
from app.self_report.models import AssessmentRequest
from app.self_report.schemas import AssessmentRequestRead


def to_read(
    request: AssessmentRequest, now: datetime, url: str | None = None
) -> AssessmentRequestRead:
    note_read("assessment_request", request.id)
    return AssessmentRequestRead(
        id=request.id,
        client_id=request.client_id,
        session_id=request.session_id,
        instrument=Instrument(request.instrument),
        url=url,
        expires_at=request.expires_at,
        status=request.status_at(now),
        created_at=request.created_at,
        created_by=request.created_by,
        completed_at=request.completed_at,
        assessment_id=request.assessment_id,
        revoked_at=request.revoked_at,
        revoked_by=request.revoked_by,
        version=request.version,
    )
