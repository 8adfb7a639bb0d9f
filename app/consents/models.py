"""Consents a client signed: the terms as signed, and their withdrawal. Never deleted."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.consents.rules import ConsentKind
from app.db import Base, TimestampedMixin, UTCDateTime, VersionedMixin, new_id

DOCUMENT_VERSION_LENGTH = 100
REASON_LENGTH = 500


class Consent(TimestampedMixin, VersionedMixin, Base):
    """One signed consent form. A withdrawal is recorded on it; a database trigger refuses DELETE
    (the migration that creates the table adds it)."""

    __tablename__ = "consents"
    __table_args__ = (
        Index("ix_consents_clinic_client_signed", "clinic_id", "client_id", "signed_at"),
        CheckConstraint(
            "expires_at IS NULL OR expires_at > signed_at", name="expires_after_signed"
        ),
        CheckConstraint(
            "(withdrawn_at IS NULL AND withdrawal_reason IS NULL AND withdrawn_by IS NULL)"
            " OR (withdrawn_at IS NOT NULL AND withdrawal_reason IS NOT NULL"
            " AND withdrawn_by IS NOT NULL)",
            name="withdrawal_complete",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    kind: Mapped[ConsentKind] = mapped_column(
        Enum(
            ConsentKind,
            name="consent_kind",
            native_enum=False,
            create_constraint=True,
            length=40,
            values_callable=lambda members: [member.value for member in members],
        )
    )
    document_version: Mapped[str] = mapped_column(String(DOCUMENT_VERSION_LENGTH))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
