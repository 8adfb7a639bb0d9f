"""Administered measures (PHQ-9, GAD-7, PCL-5): the item scores and what the service derived."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, new_id


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
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
