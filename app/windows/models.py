"""The window domain's table: which window events were emitted, for exactly once."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, new_id


class WindowEventMark(Base):
    """That the scanner emitted one window event for one dose's window: the exactly-once guard.

    A window is identified by its bounds, so a rescheduled dose gets events for its new window.
    """

    __tablename__ = "window_event_marks"
    __table_args__ = (
        UniqueConstraint("dose_id", "event_type", "window_opens_at", "window_closes_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    dose_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"))
    event_type: Mapped[str] = mapped_column(String(80))
    window_opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    emitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
