"""Stored outcomes of POSTs sent with an Idempotency-Key."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, new_id


class IdempotencyRecord(Base):
    """One key of one staff member: in progress until the request's own transaction completes it."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("clinic_id", "staff_id", "key"),
        Index("ix_idempotency_records_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed: Mapped[bool] = mapped_column(default=False)
    response_status: Mapped[int | None]
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Absent for a response that held a secret shown once: such a response is never replayed.
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The role the stored body was rendered for: it is not replayed to a role that sees less.
    # Rows stored before this column existed count as the widest view.
    response_role: Mapped[str] = mapped_column(String(20), server_default="admin")
