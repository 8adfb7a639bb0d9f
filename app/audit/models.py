"""The audit trail: append-only rows that say who touched what, never the data itself."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, new_id

# The status of audit rows written by worker tasks (webhook delivery, inbound bookings, scans).
TASK_STATUS = 0


class Outcome(StrEnum):
    success = "success"
    denied = "denied"
    not_found = "not_found"
    unauthenticated = "unauthenticated"
    refused = "refused"  # a write to a PHI resource answered 4xx (409, 412, 422, ...)


RESOURCE_ID_LENGTH = 64
"""The widest resource id the trail keeps: a UUID's text, a FHIR id (at most 64 characters)."""
IP_LENGTH = 64
"""The widest client address the trail keeps (an IPv6 address with a zone fits)."""


class AuditEvent(Base):
    """One access or change. Holds ids, names of changed fields and request facts; no PHI."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_clinic_at", "clinic_id", "at", "id"),
        Index("ix_audit_events_clinic_resource", "clinic_id", "resource_type", "resource_id"),
        Index("ix_audit_events_clinic_actor", "clinic_id", "actor_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinics.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(80))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(RESOURCE_ID_LENGTH))
    request_id: Mapped[str] = mapped_column(String(128))
    # The caller's own X-Request-ID, kept beside the server's id, never instead of it.
    client_request_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(IP_LENGTH))
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int]  # TASK_STATUS for a worker's task: there is no HTTP answer
    changed_fields: Mapped[list[str] | None] = mapped_column(JSON)


class AuditEventResource(Base):
    """A further resource one audit event covers (issue 17): a request that reads a journey is
    one `audit_events` row naming the client, and one of these per other resource it showed.

    The event's own `resource_type` / `resource_id` are its position 0; these are positions 1..n.
    `at` and `clinic_id` are the event's, repeated so that filters and monthly partitions need no
    join. No foreign key to `audit_events`: both are append-only, written in one transaction, and
    archived by month together (a foreign key would pin a partition that is being dropped).
    """

    __tablename__ = "audit_event_resources"
    __table_args__ = (
        # The clinic's items in order (the unfiltered list, since/until), and by resource.
        Index("ix_audit_event_resources_clinic_at", "clinic_id", "at", "event_id", "position"),
        Index("ix_audit_event_resources_clinic_resource", "clinic_id", "resource_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column()
    position: Mapped[int] = mapped_column(SmallInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    clinic_id: Mapped[uuid.UUID | None]
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(RESOURCE_ID_LENGTH))

    # No primary-key constraint (its index would cost bytes on every row and serve no query);
    # (event_id, position) identifies a row, and the ORM is told so.
    __mapper_args__ = {"primary_key": [event_id, position]}
