"""Clients of a clinic. Never deleted: archived."""

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampedMixin, VersionedMixin, new_id


class ClientStage(StrEnum):
    """Derived from the client's sessions whenever it is read; never stored."""

    intake = "intake"
    preparation = "preparation"
    active_treatment = "active_treatment"
    maintenance = "maintenance"


class PresentingConcern(StrEnum):
    depression = "depression"
    trauma = "trauma"
    anxiety = "anxiety"
    chronic_stress = "chronic_stress"
    other = "other"


class Client(TimestampedMixin, VersionedMixin, Base):
    """A person on a KAP journey at one clinic."""

    __tablename__ = "clients"
    __table_args__ = (
        Index("ix_clients_clinic_name", "clinic_id", "last_name", "first_name"),
        Index("ix_clients_clinic_email", "clinic_id", "email"),
        Index("ix_clients_clinic_primary_clinician", "clinic_id", "primary_clinician_id"),
        # Only the archived few, by clinic: the worklist asks of each row it keeps whether its
        # client is one of its clinic's, from this small index alone, not from the primary key
        # and the row, nor from every clinic's (app/journeys/repository.py).
        Index(
            "ix_clients_clinic_archived",
            "clinic_id",
            "id",
            postgresql_where=text("archived"),
            sqlite_where=text("archived"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    preferred_name: Mapped[str | None] = mapped_column(String(200))
    date_of_birth: Mapped[date]
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    primary_clinician_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    presenting_concerns: Mapped[list[str]] = mapped_column(JSON, default=list)
    archived: Mapped[bool] = mapped_column(default=False)
