"""Medical screenings: append-only clinical records (a new decision is a new screening)."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, VersionedMixin, new_id
from app.screenings.rules import Decision


class Screening(VersionedMixin, Base):
    """One medical screening of a client and its decision.

    Never updated nor deleted (database triggers refuse both): a screening is what was found
    and decided then. Its `version` therefore stays 1. `valid_until` is fixed when it is
    recorded, from the clinic's `screening_valid_days` in force then.
    """

    __tablename__ = "screenings"
    __table_args__ = (
        Index("ix_screenings_clinic_client_screened", "clinic_id", "client_id", "screened_at"),
        CheckConstraint("valid_until > screened_at", name="valid_after_screened"),
        CheckConstraint(
            "(decided_by IS NULL) = (decision = 'pending')", name="decided_by_iff_decided"
        ),
        CheckConstraint(
            "(systolic IS NULL) = (diastolic IS NULL)", name="blood_pressure_is_a_pair"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    screened_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    # Every contraindication code -> whether it is present (app/screenings/schemas.py).
    contraindications: Mapped[dict[str, bool]] = mapped_column(JSON)
    systolic: Mapped[int | None]
    diastolic: Mapped[int | None]
    decision: Mapped[Decision] = mapped_column(
        Enum(
            Decision,
            name="screening_decision",
            native_enum=False,
            create_constraint=True,
            length=20,
            values_callable=lambda members: [member.value for member in members],
        )
    )
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    override_reason: Mapped[str | None] = mapped_column(String(500))
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
