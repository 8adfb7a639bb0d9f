"""Administered measures (PHQ-9, GAD-7, PCL-5): the item scores and what the service derived."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, new_id


class AssessmentSource(StrEnum):
    """Who entered the item scores: staff through the API, or the client through a link."""

    staff = "staff"
    client_self_report = "client_self_report"


class Assessment(Base):
    """One administration of one instrument; totals and bands are computed, never submitted."""

    __tablename__ = "assessments"
    __table_args__ = (
        Index("ix_assessments_clinic_client_at", "clinic_id", "client_id", "administered_at"),
        Index("ix_assessments_session", "session_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sessions.id"))
    instrument: Mapped[str] = mapped_column(String(10))
    administered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    item_scores: Mapped[list[int]] = mapped_column(JSON)
    total: Mapped[int]
    severity: Mapped[str | None] = mapped_column(String(20))
    probable_ptsd: Mapped[bool | None]
    provisional_dsm5: Mapped[bool | None]
    self_harm_item_positive: Mapped[bool] = mapped_column(default=False)
    # For a self-report, the clinician who sent the link (docs/decisions.md, issue 15).
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    source: Mapped[str] = mapped_column(
        String(20), default=AssessmentSource.staff.value, server_default="staff"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
