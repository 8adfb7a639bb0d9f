"""One table for the three session kinds: they share a core and must never overlap."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    false,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import TextClause

from app.db import Base, TimestampedMixin, UTCDateTime, VersionedMixin, new_id
from app.sessions.enums import Location, Route, SessionKind, SessionStatus


def _enum(enum: type[SessionKind | SessionStatus | Location | Route], name: str) -> Enum:
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def _equal_to(**members: SessionKind | SessionStatus) -> TextClause:
    """A partial index's condition, written from the code's enum members: a statement meets it
    only if it writes the same values into its own text (`among`), since a bound value could be
    any."""
    return text(" AND ".join(f"{column} = '{member.value}'" for column, member in members.items()))


SCHEDULED_INTEGRATION = _equal_to(kind=SessionKind.integration, status=SessionStatus.scheduled)
A_DOSE = _equal_to(kind=SessionKind.ketamine)


def _scheduled_integrations(name: str, *leading: str) -> Index:
    """Scheduled integrations in start order, with what the window rule reads of them."""
    read = ("client_id", "clinician_id", "ketamine_session_id")
    return Index(
        name,
        *leading,
        "starts_at",
        "id",
        postgresql_include=[column for column in read if column not in leading],
        postgresql_where=SCHEDULED_INTEGRATION,
        sqlite_where=SCHEDULED_INTEGRATION,
    )


class ClinicalSession(TimestampedMixin, VersionedMixin, Base):
    """A preparation, ketamine (dosing) or integration session of one client."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("(kind = 'ketamine') = (route IS NOT NULL)", name="route_only_on_ketamine"),
        CheckConstraint(
            "kind = 'integration' OR ketamine_session_id IS NULL",
            name="link_only_on_integration",
        ),
        # With what the window rule's subqueries read of a client's other sessions: PostgreSQL
        # answers them from the index alone, not from heap pages spread over the whole table
        # (the worklist's 800 booking checks a page; docs/performance.md, fourteenth pass).
        Index(
            "ix_sessions_clinic_client_starts",
            "clinic_id",
            "client_id",
            "starts_at",
            postgresql_include=["kind", "status", "id", "ketamine_session_id"],
        ),
        Index("ix_sessions_clinic_kind_starts", "clinic_id", "kind", "starts_at"),
        Index("ix_sessions_clinic_clinician_starts", "clinic_id", "clinician_id", "starts_at"),
        Index("ix_sessions_ketamine_session_id", "ketamine_session_id"),
        # The worklist and the window filters read only what is still open or upcoming: doses by
        # their anchor time T(K) (windows still open), scheduled sessions by status (the list
        # filters; the worklist's outside-window page has its own partial indexes, below).
        Index(
            "ix_sessions_clinic_kind_anchor",
            "clinic_id",
            "kind",
            func.coalesce(literal_column("ended_at"), literal_column("ends_at")),
        ),
        Index("ix_sessions_clinic_kind_status_starts", "clinic_id", "kind", "status", "starts_at"),
        # The same two for a clinician's worklist, which would otherwise read every session the
        # clinician ever had.
        Index(
            "ix_sessions_clinic_clinician_kind_anchor",
            "clinic_id",
            "clinician_id",
            "kind",
            func.coalesce(literal_column("ended_at"), literal_column("ends_at")),
        ),
        Index(
            "ix_sessions_clinic_clinician_kind_status_starts",
            "clinic_id",
            "clinician_id",
            "kind",
            "status",
            "starts_at",
        ),
        # The outside-window page judges scheduled integrations in start order, and each one's
        # anchoring dose, from these alone; it reads the heap only for the rows it shows. Before,
        # it read some 440 scattered heap rows a page and as many anchors, most from outside
        # shared_buffers at 1M sessions (docs/performance.md, eighteenth pass). All are partial:
        # scheduled integrations are 3 % of sessions at 1M, and doses 43 %.
        _scheduled_integrations("ix_sessions_scheduled_integrations", "clinic_id"),
        _scheduled_integrations(
            "ix_sessions_clinician_scheduled_integrations", "clinic_id", "clinician_id"
        ),
        Index(
            "ix_sessions_doses",
            "id",
            postgresql_include=["status", "route", "ended_at", "ends_at"],
            postgresql_where=A_DOSE,
            sqlite_where=A_DOSE,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    clinician_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[SessionKind] = mapped_column(_enum(SessionKind, "session_kind"))
    status: Mapped[SessionStatus] = mapped_column(
        _enum(SessionStatus, "session_status"), default=SessionStatus.scheduled
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    location: Mapped[Location] = mapped_column(_enum(Location, "session_location"))
    notes: Mapped[str | None] = mapped_column(Text)
    external_source: Mapped[str | None] = mapped_column(String(50))
    external_id: Mapped[str | None] = mapped_column(String(200))
    # Preparation
    topics: Mapped[list[str] | None] = mapped_column(JSON)
    # Ketamine
    route: Mapped[Route | None] = mapped_column(_enum(Route, "dose_route"))
    dose_mg: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    # Ketamine: the dosing record (clinical; see app/sessions/dosing/)
    medication: Mapped[str | None] = mapped_column(String(20))
    lot_number: Mapped[str | None] = mapped_column(String(100))
    vitals: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    adverse_events: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    dosed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ready_to_leave_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transport_confirmed: Mapped[bool | None]
    rems_form_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The REMS form's concomitant-medication answers; NULL = not yet answered.
    concomitant_benzodiazepines: Mapped[bool | None]
    concomitant_non_benzodiazepine_sedative_hypnotics: Mapped[bool | None]
    concomitant_psychostimulants: Mapped[bool | None]
    concomitant_maois: Mapped[bool | None]
    # Facts derived from the vitals (and dosed_at) at write time, kept beside them so the flag
    # filters need no JSON search (app/sessions/dosing/schemas.py, vitals_facts): the highest
    # pre-dose reading, and the REMS readings.
    pre_dose_systolic_peak: Mapped[int | None]
    pre_dose_diastolic_peak: Mapped[int | None]
    has_bp_30_to_60_min: Mapped[bool] = mapped_column(default=False, server_default=false())
    has_discharge_bp: Mapped[bool] = mapped_column(default=False, server_default=false())
    has_spo2_after_dose: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The dosing gate: a prescriber completed the dose although these checks failed (error
    # codes, app/sessions/gate.py), with a reason. Set once, never cleared: the dose carries the
    # safety flag `gate_overridden` for good.
    gate_overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    gate_overridden_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    gate_override_reason: Mapped[str | None] = mapped_column(String(500))
    gate_override_checks: Mapped[list[str] | None] = mapped_column(JSON)
    # Integration
    ketamine_session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sessions.id"))


class SessionCorrection(Base):
    """A correction of a completed session: what changed, from what, and why.

    Append-only. It holds the staff-entered reason (free text, possibly clinical), so it lives
    with the clinical record, not in the audit trail; the request's audit row points at it
    (resource_type `session_correction`, resource_id its id).
    """

    __tablename__ = "session_corrections"
    __table_args__ = (
        Index("ix_session_corrections_clinic_session", "clinic_id", "session_id", "corrected_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    corrected_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    # Field name → value before the correction, as JSON text (times RFC 3339, ids as strings).
    previous: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500))
