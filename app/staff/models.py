"""Staff members of a clinic: the people (and their roles) behind every API key."""

import uuid
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampedMixin, VersionedMixin, new_id


class Role(StrEnum):
    """What a staff member may do; see docs/architecture.md, Roles."""

    admin = "admin"
    clinician = "clinician"
    scheduler = "scheduler"


PRESCRIBING_ROLES = frozenset({Role.admin, Role.clinician})
"""The roles a prescriber may hold: the prescriber-only acts are clinical."""


class Staff(TimestampedMixin, VersionedMixin, Base):
    """A clinic's staff member; email is unique within the clinic, stored case-folded
    (app/staff/emails.py)."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("clinic_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="staff_role",
            native_enum=False,
            create_constraint=True,
            length=20,
            values_callable=lambda members: [member.value for member in members],
        )
    )
    active: Mapped[bool] = mapped_column(default=True)
    # A licensed prescriber (MD, DO, NP, PA): an admin or clinician only (app/staff/service.py).
    # Server default '0' (false to both databases): see the b14c1ea2a9c1 migration.
    prescriber: Mapped[bool] = mapped_column(default=False, server_default="0")
