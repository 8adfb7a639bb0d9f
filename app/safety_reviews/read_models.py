"""A safety review row -> its read schema, noted in the audit trail as read."""

from app.audit.trail import note_read
from app.safety_reviews.models import SafetyReview
from app.safety_reviews.schemas import SafetyReviewRead


def to_read(review: SafetyReview) -> SafetyReviewRead:
    note_read("safety_review", review.id)
    return SafetyReviewRead.model_validate(review, from_attributes=True)
