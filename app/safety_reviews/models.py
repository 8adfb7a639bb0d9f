"""Safety reviews: a positive PHQ-9 item 9 waiting for, or given, a clinician's follow-up."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, VersionedMixin, new_id


class ReviewStatus(StrEnum):
    # Listed open first because "open" sorts before "resolved" (see repository.list_page).
    open = "open"
    resolved = "resolved"


class ResolutionAction(StrEnum):
    safety_plan_reviewed = "safety_plan_reviewed"
    crisis_resources_given = "crisis_resources_given"
    referred_to_crisis_service = "referred_to_crisis_service"
    emergency_services_contacted = "emergency_services_contacted"
    other = "other"


class SafetyReview(VersionedMixin, Base):
    """One review per positive PHQ-9: opened with the assessment, closed only by a clinician."""

    __tablename__ = "safety_reviews"
    __table_args__ = (
        # One review per assessment; with clinic_id first it also fits Citus (docs/scaling.md).
        UniqueConstraint("clinic_id", "assessment_id"),
        Index("ix_safety_reviews_clinic_status_opened", "clinic_id", "status", "opened_at", "id"),
        Index("ix_safety_reviews_clinic_client_status", "clinic_id", "client_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    assessment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assessments.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=ReviewStatus.open.value)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    action: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
