"""An assessment row -> its read schema, noted in the audit trail as read."""

from app.assessments.models import Assessment
from app.assessments.schemas import AssessmentRead
from app.audit.trail import note_read


def to_read(assessment: Assessment) -> AssessmentRead:
    note_read("assessment", assessment.id)
    return AssessmentRead.model_validate(assessment, from_attributes=True)
