"""The event table: one row per thing that happened that someone listens to."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, new_id


class WebhookEvent(Base):
    """One thing that happened; `id` is the webhook-id on every attempt and resend.

    Named for its table (`webhook_events`), which predates events having a package of their own.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_clinic_at", "clinic_id", "occurred_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    type: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
