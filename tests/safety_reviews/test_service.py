"""`open_for_assessment` writes in the caller's transaction: the review is there as soon as the
assessment is, before anything commits, and goes when the transaction rolls back."""

from datetime import timedelta

from sqlalchemy import func, select

from app.assessments.schemas import AssessmentCreate
from app.assessments.scoring import Instrument
from app.assessments.service import record
from app.safety_reviews import repository
from app.safety_reviews.models import SafetyReview
from tests.safety_reviews.support import phq9
from tests.support.factories import T0
from tests.support.services import ClinicDb


async def test_the_review_is_written_in_the_assessments_transaction(clinic_db: ClinicDb) -> None:
    client = await clinic_db.client()
    body = AssessmentCreate(
        instrument=Instrument.phq9, administered_at=T0 - timedelta(hours=1), item_scores=phq9(2)
    )
    assessment = await record(clinic_db.db, clinic_db.admin, client, body, T0)
    assert clinic_db.db.in_transaction()
    [found] = await repository.open_for_client(clinic_db.db, clinic_db.clinic_id, client.id)
    assert found.assessment_id == assessment.id
    assert (found.administered_at, found.session_id) == (T0 - timedelta(hours=1), None)
    review = await clinic_db.db.get(SafetyReview, found.id)
    assert review is not None
    assert review.opened_at == T0
    review_id = found.id
    await clinic_db.db.rollback()
    count = select(func.count()).where(SafetyReview.id == review_id)
    assert await clinic_db.db.scalar(count) == 0
