"""The columns every job table shares, so one queue serves them all."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime

PENDING = "pending"
FAILED = "failed"


class Job:
    """A row that is a job: a mixin for the table's model, which adds its own id and the
    statuses a finished job takes (`pending` while queued, `failed` once given up)."""

    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(200))


class LeasedJob(Job):
    """A job whose work runs outside the transaction that claimed it, under a lease."""

    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
