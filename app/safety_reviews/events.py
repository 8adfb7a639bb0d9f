"""The safety review events: ids and the version only, never a score or a note."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.catalogue import EventType
from app.events.service import emit
from app.safety_reviews.models import SafetyReview


async def emit_opened(db: AsyncSession, review: SafetyReview, now: datetime) -> None:
    """`safety_review.opened`, in the transaction that opened the review."""
    data = {
        "safety_review_id": str(review.id),
        "client_id": str(review.client_id),
        "assessment_id": str(review.assessment_id),
        "version": review.version,
    }
    await emit(db, review.clinic_id, EventType.safety_review_opened, data, now)
