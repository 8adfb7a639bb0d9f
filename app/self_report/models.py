"""Self-report links: a one-time, expiring, revocable request for a client to answer a measure."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, VersionedMixin, new_id


class RequestStatus(StrEnum):
    pending = "pending"
    completed = "completed"
    expired = "expired"
    revoked = "revoked"


class AssessmentRequest(VersionedMixin, Base):
    """One link. Its token is stored as a prefix (to find the row) and a SHA-256 hash of the
    secret, like API keys: the database never holds a token that opens the form."""

    __tablename__ = "assessment_requests"
    __table_args__ = (
        Index("ix_assessment_requests_prefix", "prefix", unique=True),
        Index("ix_assessment_requests_clinic_client", "clinic_id", "client_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sessions.id"))
    instrument: Mapped[str] = mapped_column(String(10))
    prefix: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assessment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("assessments.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))

    def status_at(self, now: datetime) -> RequestStatus:
        """Completed and revoked are final; a pending link expires at `expires_at`."""
        if self.completed_at is not None:
            return RequestStatus.completed
        if self.revoked_at is not None:
            return RequestStatus.revoked
        if now >= self.expires_at:
            return RequestStatus.expired
        return RequestStatus.pending
