"""Feed tokens: calendar apps cannot send bearer headers, so the token travels in the URL."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, new_id


class CalendarFeedToken(Base):
    """A staff member's feed token, stored hashed like API keys; revoking it stops the feed."""

    __tablename__ = "calendar_feed_tokens"
    __table_args__ = (
        Index("ix_calendar_feed_tokens_staff", "clinic_id", "staff_id"),
        Index("ix_calendar_feed_tokens_prefix", "prefix", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    prefix: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
