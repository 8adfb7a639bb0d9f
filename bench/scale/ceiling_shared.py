"""What the ceiling's two endpoints share: the key lookup and audit inserts, as the app sends them.

The statements are the app's, pasted in verbatim but for whitespace (bench/scale/ceiling.py says
how they were captured; ceiling_check.py refuses to measure if they drift). What repeats between
them is the app's own: each is what it sends.

Also here: the parameter helpers both endpoints number their window CASEs with, the audit
writes, and the connection protocol the handlers take (a recorder stands in for asyncpg in
ceiling_check.py).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

ROUTES = ("iv", "im", "sublingual", "oral", "intranasal")  # app.sessions.enums.Route order
US_PER_S = 1_000_000

# --- The statements, as captured ------------------------------------------------------------------

SESSION_COLUMNS = """
sessions.id, sessions.clinic_id, sessions.client_id, sessions.clinician_id, sessions.kind,
sessions.status, sessions.starts_at, sessions.ends_at, sessions.ended_at,
sessions.cancellation_reason, sessions.location, sessions.notes, sessions.external_source,
sessions.external_id, sessions.topics, sessions.route, sessions.dose_mg, sessions.weight_kg,
sessions.medication, sessions.lot_number, sessions.vitals, sessions.adverse_events,
sessions.dosed_at, sessions.ready_to_leave_at, sessions.discharged_at,
sessions.transport_confirmed, sessions.rems_form_submitted_at,
sessions.concomitant_benzodiazepines, sessions.concomitant_non_benzodiazepine_sedative_hypnotics,
sessions.concomitant_psychostimulants, sessions.concomitant_maois, sessions.pre_dose_systolic_peak,
sessions.pre_dose_diastolic_peak, sessions.has_bp_30_to_60_min, sessions.has_discharge_bp,
sessions.has_spo2_after_dose, sessions.gate_overridden_at, sessions.gate_overridden_by,
sessions.gate_override_reason, sessions.gate_override_checks, sessions.ketamine_session_id,
sessions.created_at, sessions.updated_at, sessions.version
"""
"""Every column of `sessions`, as `select(ClinicalSession)` lists them (journey and worklist)."""

API_KEY = """
SELECT api_keys.id AS key_id, api_keys.secret_hash, api_keys.expires_at, api_keys.revoked_at,
api_keys.last_used_at, api_keys.staff_id, staff.role, staff.active, staff.prescriber, clinics.id
AS clinic_id, clinics.name, clinics.timezone, clinics.require_completed_preparation,
clinics.window_opens_after_s, clinics.window_closes_iv_s, clinics.window_closes_im_s,
clinics.window_closes_intranasal_s, clinics.window_closes_sublingual_s,
clinics.window_closes_oral_s, clinics.closing_soon_s, clinics.pcl5_cutoff,
clinics.pre_dose_systolic_max, clinics.pre_dose_diastolic_max,
clinics.esketamine_min_monitoring_minutes, clinics.rems_form_due_days,
clinics.require_medical_clearance, clinics.require_consent, clinics.screening_valid_days,
clinics.created_at, clinics.updated_at, clinics.version FROM api_keys JOIN staff ON staff.id =
api_keys.staff_id JOIN clinics ON clinics.id = api_keys.clinic_id WHERE api_keys.prefix =
$1::VARCHAR
"""

AUDIT_INSERT = """
INSERT INTO audit_events (id, clinic_id, at, actor_id, actor_role, action, resource_type,
resource_id, request_id, client_request_id, ip, outcome, status_code, changed_fields) VALUES
($1::UUID, $2::UUID, $3::TIMESTAMP WITH TIME ZONE, $4::UUID, $5::VARCHAR, $6::VARCHAR,
$7::VARCHAR, $8::VARCHAR, $9::VARCHAR, $10::VARCHAR, $11::VARCHAR, $12::VARCHAR, $13::INTEGER,
$14::JSON)
"""

AUDIT_RESOURCES_INSERT = """
INSERT INTO audit_event_resources (event_id, position, at, clinic_id, resource_type,
resource_id) SELECT $1::UUID AS anon_1, further.position, $2::TIMESTAMP WITH TIME ZONE AS anon_2,
$3::UUID AS anon_3, further.resource_type, further.resource_id FROM unnest($4::SMALLINT[],
$5::VARCHAR[], $6::VARCHAR[]) AS further(position, resource_type, resource_id)
"""


# --- Parameters, in the order SQLAlchemy numbers them ---------------------------------------------


def closing_offsets(key: asyncpg.Record) -> list[Any]:
    """The per-route CASE of a window's closing offset: route, seconds, ..., else 0, then the
    microseconds-per-second factor."""
    pairs: list[Any] = []
    for route in ROUTES:
        pairs += [route, key[f"window_closes_{route}_s"]]
    return [*pairs, 0, US_PER_S]


def epoch_us(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


# --- What both handlers use ----------------------------------------------------------------------


class Connection(Protocol):
    """What the handlers use of an asyncpg connection (ceiling_check.py's recorder stands in
    for it)."""

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...
    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None: ...
    async def execute(self, query: str, *args: Any) -> str: ...
    async def executemany(self, command: str, args: Sequence[Sequence[Any]]) -> None: ...


async def write_audit(
    connection: Connection,
    key: asyncpg.Record,
    action: str,
    touched: list[tuple[str, str | None]],
    now: datetime,
) -> None:
    """What the app's unit of work writes for a read (app/audit/trail.py): one `audit_events`
    row naming the first resource, then, only if it read more, one statement inserting the
    others as `audit_event_resources` rows numbered from 1 (app/audit/writes.py)."""
    event_id = uuid.uuid4()
    (resource_type, resource_id), *further = touched
    await connection.execute(
        AUDIT_INSERT,
        event_id,
        key["clinic_id"],
        now,
        key["staff_id"],
        key["role"],
        action,
        resource_type,
        resource_id,
        uuid.uuid4().hex,
        None,  # no X-Request-ID sent
        "127.0.0.1",
        "success",
        200,
        "null",
    )
    if further:
        await connection.execute(
            AUDIT_RESOURCES_INSERT,
            event_id,
            now,
            key["clinic_id"],
            list(range(1, len(further) + 1)),
            [kind for kind, _ in further],
            [identifier for _, identifier in further],
        )


def rows(records: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(record) for record in records]
