"""Inbound scheduling: integrations, every delivery a provider sent, and the booking chains.

A provider's booking id changes on every reschedule (Cal.com issues a new uid, Calendly a new
invitee), so bookings are grouped into chains: every id of one chain maps to the same session.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampedMixin, UTCDateTime, VersionedMixin, new_id
from app.jobs.models import Job


class InboundStatus(StrEnum):
    """Where a stored delivery is in processing."""

    pending = "pending"
    applied = "applied"  # the session now reflects it (or it changed nothing)
    unmatched = "unmatched"  # waiting in /unmatched-bookings for a human
    ignored = "ignored"  # a verified event this service does not act on


class UnmatchedStatus(StrEnum):
    open = "open"
    resolved = "resolved"
    dismissed = "dismissed"
    withdrawn = "withdrawn"  # the provider cancelled the booking before anyone resolved it


class SchedulingIntegration(TimestampedMixin, VersionedMixin, Base):
    """One scheduler of a clinic that posts bookings to /api/v1/inbound/{id}."""

    __tablename__ = "scheduling_integrations"
    __table_args__ = (Index("ix_scheduling_integrations_clinic", "clinic_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    provider: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    event_type_map: Mapped[dict[str, str]] = mapped_column(JSON)
    default_clinician_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    default_route: Mapped[str | None] = mapped_column(String(20))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InboundDelivery(Job, Base):
    """A verified request body, stored before it is acknowledged: a job the worker applies."""

    __tablename__ = "inbound_deliveries"
    __table_args__ = (
        UniqueConstraint("integration_id", "dedupe_key"),
        Index("ix_inbound_deliveries_due", "status", "next_attempt_at"),
        Index("ix_inbound_deliveries_integration", "clinic_id", "integration_id", "received_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    integration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_integrations.id"))
    # The provider's delivery id where it sends one, else "sha256:" + the body's digest.
    dedupe_key: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(80))
    booking_id: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Provider bodies name people (and may carry intake answers): sealed at rest.
    body_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(300))
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sessions.id"))
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BookingChain(Base):
    """The provider booking ids that are one appointment, and the session they became."""

    __tablename__ = "booking_chains"
    __table_args__ = (Index("ix_booking_chains_session", "session_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    integration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_integrations.id"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sessions.id"))
    # What a human decided when resolving it; later reschedules keep honouring it.
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id"))
    clinician_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProviderBooking(Base):
    """One provider booking id: what the provider last said about it, and its chain."""

    __tablename__ = "provider_bookings"
    __table_args__ = (
        UniqueConstraint("integration_id", "booking_id"),
        Index("ix_provider_bookings_chain", "chain_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    integration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_integrations.id"))
    booking_id: Mapped[str] = mapped_column(String(200))
    chain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("booking_chains.id"))
    replaced_by: Mapped[str | None] = mapped_column(String(200))
    cancelled: Mapped[bool] = mapped_column(default=False)
    cancellation_reason: Mapped[str | None] = mapped_column(String(1000))
    # The booking as the provider described it; None until its own created event arrives.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UnmatchedBooking(TimestampedMixin, VersionedMixin, Base):
    """A booking that could not become a session, waiting for a human decision."""

    __tablename__ = "unmatched_bookings"
    __table_args__ = (
        Index("ix_unmatched_bookings_clinic", "clinic_id", "status", "created_at"),
        Index("ix_unmatched_bookings_chain", "chain_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    integration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_integrations.id"))
    chain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("booking_chains.id"))
    status: Mapped[str] = mapped_column(String(20), default=UnmatchedStatus.open.value)
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(500))
    booking_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(20))
    event_type: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attendee_email: Mapped[str | None] = mapped_column(String(320))
    attendee_name: Mapped[str | None] = mapped_column(String(200))
    organizer_email: Mapped[str | None] = mapped_column(String(320))
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sessions.id"))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
