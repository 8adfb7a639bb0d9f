"""Opening safety reviews for positive PHQ-9 item 9 answers, listing and resolving them.

A review opens in the transaction that records its PHQ-9: every path that records one calls
`open_for_assessment`. Only a clinician's resolution closes it; a later PHQ-9 with item 9 at 0
does not, since a lower score is no record that anyone followed the first one up.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Assessment
from app.assessments.scoring import Instrument
from app.audit.trail import note_change
from app.auth.principal import Principal
from app.common.pagination import PageParams
from app.db import new_id
from app.errors import InvalidTransition, NotFound, ValidationFailed
from app.safety_reviews import repository
from app.safety_reviews.events import emit_opened
from app.safety_reviews.models import ResolutionAction, ReviewStatus, SafetyReview
from app.safety_reviews.repository import OpenReview, ReviewFilters
from app.safety_reviews.schemas import ResolveBody

OPENED_FIELDS = ["assessment_id", "client_id", "opened_at", "status"]


class SafetyReviewNotFound(NotFound):
    title = "Safety review not found"


class ReviewAlreadyResolved(InvalidTransition):
    title = "The safety review is already resolved"


def calls_for_review(assessment: Assessment) -> bool:
    """A PHQ-9 whose item 9 (thoughts of self-harm) is above 0."""
    return assessment.instrument == Instrument.phq9.value and assessment.self_harm_item_positive


async def open_for_assessment(
    db: AsyncSession, assessment: Assessment, now: datetime
) -> SafetyReview | None:
    """Open the review a just-stored assessment calls for, and emit `safety_review.opened`;
    None when it calls for none. Run it in the transaction that stores the assessment."""
    if not calls_for_review(assessment):
        return None
    review = SafetyReview(
        id=new_id(),
        clinic_id=assessment.clinic_id,
        client_id=assessment.client_id,
        assessment_id=assessment.id,
        opened_at=now,
        status=ReviewStatus.open.value,
    )
    db.add(review)
    await db.flush()
    note_change("safety_review", review.id, OPENED_FIELDS)
    await emit_opened(db, review, now)
    return review


async def get_review(db: AsyncSession, principal: Principal, review_id: uuid.UUID) -> SafetyReview:
    review = await repository.get(db, principal.clinic_id, review_id)
    if review is None:
        raise SafetyReviewNotFound(f"No safety review {review_id} in this clinic.")
    return review


async def list_reviews(
    db: AsyncSession, principal: Principal, filters: ReviewFilters, page: PageParams
) -> Sequence[SafetyReview]:
    return await repository.list_page(db, principal.clinic_id, filters, page)


async def resolve(
    db: AsyncSession, principal: Principal, review: SafetyReview, body: ResolveBody, now: datetime
) -> SafetyReview:
    """Close an open review with what was done; `other` must say what in `note`."""
    note = body.note.strip() if body.note is not None else None
    if body.action is ResolutionAction.other and not note:
        raise ValidationFailed(
            "A resolution with action 'other' needs a note saying what was done.",
            loc=("body", "note"),
            kind="note_required",
        )
    if review.status != ReviewStatus.open.value:
        raise ReviewAlreadyResolved(
            f"Safety review {review.id} is already resolved; a review is resolved once."
        )
    review.status = ReviewStatus.resolved.value
    review.resolved_at = now
    review.resolved_by = principal.staff_id
    review.action = body.action.value
    review.note = note or None
    await db.flush()
    changed = ["action", "resolved_at", "resolved_by", "status"] + (["note"] if note else [])
    note_change("safety_review", review.id, sorted(changed))
    return review


async def open_reviews(
    db: AsyncSession, clinic_id: uuid.UUID, client_id: uuid.UUID
) -> list[OpenReview]:
    """The client's open reviews, oldest first: what the journey's alert follows."""
    return await repository.open_for_client(db, clinic_id, client_id)
