"""The ceiling: a bare Starlette app on asyncpg sending the same SQL as our two read endpoints.

It answers `GET /api/v1/clients/{client_id}/journey` and `GET /api/v1/worklists/integration`
with the statements our API sends for them, in the same order, in one transaction per request
on a pool of the same size, and returns the rows as JSON. It does nothing else: no key check
(the key's prefix only finds the clinic, as our first statement does), no validation, no ORM, no
window rule, no pydantic, no middleware. What our API costs above this is the price of the
framework and of everything it does with the rows.

The statements below were captured from the app's own code path with
`python -m bench.scale.capture` (SQLAlchemy's before_cursor_execute event on the app's engine,
2026-11-27, after the open-window index change) and pasted in as literal SQL; only whitespace
differs. `bench.scale.run` captures them again before it measures and refuses to run if any
differs, so the ceiling cannot drift from the app. Left out on purpose: the once-a-minute
`UPDATE api_keys SET last_used_at` (absent from steady-state requests anyway).

    KAP_DATABASE_URL=postgresql://... uvicorn bench.scale.ceiling:create_app --factory
"""

import json
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

POOL_SIZE = 10  # SQLAlchemy's pool_size (app/config.py database_pool_size) ...
MAX_OVERFLOW = 10  # ... and max_overflow (app/db.py create_engine)
ROUTES = ("iv", "im", "sublingual", "oral", "intranasal")  # app.sessions.enums.Route order
ANCHORING = ("scheduled", "completed")
US_PER_S = 1_000_000
DEFAULT_LIMIT = 50

# --- The statements, as captured ------------------------------------------------------------------

API_KEY = """
SELECT api_keys.id, api_keys.clinic_id, api_keys.staff_id, api_keys.name, api_keys.prefix,
api_keys.secret_hash, api_keys.created_at, api_keys.expires_at, api_keys.revoked_at,
api_keys.last_used_at, staff.id AS id_1, staff.clinic_id AS clinic_id_1, staff.email,
staff.name AS name_1, staff.role, staff.active, staff.created_at AS created_at_1,
staff.updated_at, staff.version, clinics.id AS id_2, clinics.name AS name_2,
clinics.timezone, clinics.require_completed_preparation, clinics.window_opens_after_s,
clinics.window_closes_iv_s, clinics.window_closes_im_s, clinics.window_closes_intranasal_s,
clinics.window_closes_sublingual_s, clinics.window_closes_oral_s, clinics.closing_soon_s,
clinics.pcl5_cutoff, clinics.pre_dose_systolic_max, clinics.pre_dose_diastolic_max,
clinics.esketamine_min_monitoring_minutes, clinics.rems_form_due_days, clinics.created_at AS
created_at_2, clinics.updated_at AS updated_at_1, clinics.version AS version_1 FROM api_keys
JOIN staff ON staff.id = api_keys.staff_id JOIN clinics ON clinics.id = api_keys.clinic_id
WHERE api_keys.prefix = $1::VARCHAR
"""

CLIENT_WITH_STAGE = """
SELECT clients.id, clients.clinic_id, clients.first_name, clients.last_name,
clients.preferred_name, clients.date_of_birth, clients.email, clients.phone,
clients.primary_clinician_id, clients.presenting_concerns, clients.archived,
clients.created_at, clients.updated_at, clients.version, CASE WHEN (NOT (EXISTS (SELECT *
FROM sessions AS sessions_1 WHERE sessions_1.clinic_id = clients.clinic_id AND
sessions_1.client_id = clients.id AND sessions_1.status IN ($25, $26)))) THEN $1::VARCHAR
WHEN (NOT (EXISTS (SELECT * FROM sessions AS sessions_2 WHERE sessions_2.clinic_id =
clients.clinic_id AND sessions_2.client_id = clients.id AND sessions_2.status IN ($27) AND
sessions_2.kind = $2))) THEN $3::VARCHAR WHEN ((EXISTS (SELECT * FROM sessions AS sessions_3
WHERE sessions_3.clinic_id = clients.clinic_id AND sessions_3.client_id = clients.id AND
sessions_3.status IN ($28) AND sessions_3.kind = $4)) OR (SELECT CAST(EXTRACT(EPOCH FROM
coalesce(sessions_4.ended_at, sessions_4.ends_at)) * 1000000 AS BIGINT) + CASE WHEN
(sessions_4.route = $5) THEN $6::BIGINT WHEN (sessions_4.route = $7) THEN $8::BIGINT WHEN
(sessions_4.route = $9) THEN $10::BIGINT WHEN (sessions_4.route = $11) THEN $12::BIGINT WHEN
(sessions_4.route = $13) THEN $14::BIGINT ELSE $15::BIGINT END * $16::BIGINT AS anon_1 FROM
sessions AS sessions_4 WHERE sessions_4.clinic_id = clients.clinic_id AND
sessions_4.client_id = clients.id AND sessions_4.kind = $17 AND sessions_4.status = $18
ORDER BY sessions_4.starts_at DESC, sessions_4.id DESC LIMIT $19::INTEGER) >= $20::BIGINT)
THEN $21::VARCHAR ELSE $22::VARCHAR END AS stage FROM clients WHERE clients.clinic_id =
$23::UUID AND clients.id = $24::UUID
"""

CLIENT_SESSIONS = """
SELECT sessions.id, sessions.clinic_id, sessions.client_id, sessions.clinician_id,
sessions.kind, sessions.status, sessions.starts_at, sessions.ends_at, sessions.ended_at,
sessions.cancellation_reason, sessions.location, sessions.notes, sessions.external_source,
sessions.external_id, sessions.topics, sessions.route, sessions.dose_mg, sessions.weight_kg,
sessions.medication, sessions.lot_number, sessions.vitals, sessions.adverse_events,
sessions.dosed_at, sessions.discharged_at, sessions.transport_confirmed,
sessions.rems_form_submitted_at, sessions.pre_dose_systolic_peak,
sessions.pre_dose_diastolic_peak, sessions.ketamine_session_id, sessions.created_at,
sessions.updated_at, sessions.version FROM sessions WHERE sessions.clinic_id = $1::UUID AND
sessions.client_id = $2::UUID ORDER BY sessions.starts_at, sessions.id
"""

LATEST_PHQ9 = """
SELECT assessments.id, assessments.clinic_id, assessments.client_id, assessments.session_id,
assessments.instrument, assessments.administered_at, assessments.item_scores,
assessments.total, assessments.severity, assessments.probable_ptsd,
assessments.provisional_dsm5, assessments.self_harm_item_positive, assessments.recorded_by,
assessments.created_at FROM assessments WHERE assessments.clinic_id = $1::UUID AND
assessments.client_id = $2::UUID AND assessments.instrument = $3::VARCHAR ORDER BY
assessments.administered_at DESC, assessments.id DESC LIMIT $4::INTEGER
"""

AUDIT_INSERT = """
INSERT INTO audit_events (id, clinic_id, at, actor_id, actor_role, action, resource_type,
resource_id, request_id, ip, outcome, status_code, changed_fields) VALUES ($1::UUID,
$2::UUID, $3::TIMESTAMP WITH TIME ZONE, $4::UUID, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR,
$8::VARCHAR, $9::VARCHAR, $10::VARCHAR, $11::VARCHAR, $12::INTEGER, $13::JSON)
"""

UNBOOKED = """
SELECT sessions.id, sessions.clinic_id, sessions.client_id, sessions.clinician_id,
sessions.kind, sessions.status, sessions.starts_at, sessions.ends_at, sessions.ended_at,
sessions.cancellation_reason, sessions.location, sessions.notes, sessions.external_source,
sessions.external_id, sessions.topics, sessions.route, sessions.dose_mg, sessions.weight_kg,
sessions.medication, sessions.lot_number, sessions.vitals, sessions.adverse_events,
sessions.dosed_at, sessions.discharged_at, sessions.transport_confirmed,
sessions.rems_form_submitted_at, sessions.pre_dose_systolic_peak,
sessions.pre_dose_diastolic_peak, sessions.ketamine_session_id, sessions.created_at,
sessions.updated_at, sessions.version FROM sessions JOIN clients ON clients.id =
sessions.client_id WHERE sessions.clinic_id = $1::UUID AND sessions.kind = $2 AND
coalesce(sessions.ended_at, sessions.ends_at) >= $3::TIMESTAMP WITH TIME ZONE AND CASE WHEN
((sessions.status NOT IN ($40, $41))) THEN $4::VARCHAR WHEN (EXISTS (SELECT * FROM sessions
AS sessions_1 WHERE sessions_1.clinic_id = sessions.clinic_id AND sessions_1.client_id =
sessions.client_id AND sessions_1.kind = $5 AND sessions_1.status IN ($42, $43) AND
coalesce((SELECT sessions_2.id FROM sessions AS sessions_2 WHERE sessions_2.id =
sessions_1.ketamine_session_id AND sessions_2.kind = $6 AND sessions_2.status IN ($44,
$45)), (SELECT sessions_3.id FROM sessions AS sessions_3 WHERE sessions_3.clinic_id =
sessions_1.clinic_id AND sessions_3.client_id = sessions_1.client_id AND sessions_3.kind =
$7 AND sessions_3.status IN ($46, $47) AND sessions_3.starts_at <= sessions_1.starts_at
ORDER BY sessions_3.starts_at DESC, sessions_3.id DESC LIMIT $8::INTEGER)) = sessions.id AND
CAST(EXTRACT(EPOCH FROM sessions_1.starts_at) * 1000000 AS BIGINT) >= CAST(EXTRACT(EPOCH
FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + $9::BIGINT AND
CAST(EXTRACT(EPOCH FROM sessions_1.starts_at) * 1000000 AS BIGINT) <= CAST(EXTRACT(EPOCH
FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN
(sessions.route = $10) THEN $11::BIGINT WHEN (sessions.route = $12) THEN $13::BIGINT WHEN
(sessions.route = $14) THEN $15::BIGINT WHEN (sessions.route = $16) THEN $17::BIGINT WHEN
(sessions.route = $18) THEN $19::BIGINT ELSE $20::BIGINT END * $21::BIGINT)) THEN
$22::VARCHAR WHEN ($23::BIGINT <= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $10) THEN $11::BIGINT
WHEN (sessions.route = $12) THEN $13::BIGINT WHEN (sessions.route = $14) THEN $15::BIGINT
WHEN (sessions.route = $16) THEN $17::BIGINT WHEN (sessions.route = $18) THEN $19::BIGINT
ELSE $20::BIGINT END * $21::BIGINT) THEN $24::VARCHAR ELSE $25::VARCHAR END = $26::VARCHAR
AND clients.archived IS false ORDER BY CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $27) THEN $28::BIGINT
WHEN (sessions.route = $29) THEN $30::BIGINT WHEN (sessions.route = $31) THEN $32::BIGINT
WHEN (sessions.route = $33) THEN $34::BIGINT WHEN (sessions.route = $35) THEN $36::BIGINT
ELSE $37::BIGINT END * $38::BIGINT, sessions.id LIMIT $39::INTEGER
"""

OUTSIDE_WINDOW = """
SELECT sessions.id, sessions.clinic_id, sessions.client_id, sessions.clinician_id,
sessions.kind, sessions.status, sessions.starts_at, sessions.ends_at, sessions.ended_at,
sessions.cancellation_reason, sessions.location, sessions.notes, sessions.external_source,
sessions.external_id, sessions.topics, sessions.route, sessions.dose_mg, sessions.weight_kg,
sessions.medication, sessions.lot_number, sessions.vitals, sessions.adverse_events,
sessions.dosed_at, sessions.discharged_at, sessions.transport_confirmed,
sessions.rems_form_submitted_at, sessions.pre_dose_systolic_peak,
sessions.pre_dose_diastolic_peak, sessions.ketamine_session_id, sessions.created_at,
sessions.updated_at, sessions.version FROM sessions LEFT OUTER JOIN sessions AS sessions_1
ON sessions_1.id = coalesce((SELECT sessions_2.id FROM sessions AS sessions_2 WHERE
sessions_2.id = sessions.ketamine_session_id AND sessions_2.kind = $1 AND sessions_2.status
IN ($26, $27)), (SELECT sessions_3.id FROM sessions AS sessions_3 WHERE sessions_3.clinic_id
= sessions.clinic_id AND sessions_3.client_id = sessions.client_id AND sessions_3.kind = $2
AND sessions_3.status IN ($28, $29) AND sessions_3.starts_at <= sessions.starts_at ORDER BY
sessions_3.starts_at DESC, sessions_3.id DESC LIMIT $3::INTEGER)) JOIN clients ON clients.id
= sessions.client_id WHERE sessions.clinic_id = $4::UUID AND sessions.kind = $5 AND
sessions.status = $6 AND CASE WHEN (sessions_1.id IS NULL) THEN $7::VARCHAR WHEN
(CAST(EXTRACT(EPOCH FROM sessions.starts_at) * 1000000 AS BIGINT) < CAST(EXTRACT(EPOCH FROM
coalesce(sessions_1.ended_at, sessions_1.ends_at)) * 1000000 AS BIGINT) + $8::BIGINT) THEN
$9::VARCHAR WHEN (CAST(EXTRACT(EPOCH FROM sessions.starts_at) * 1000000 AS BIGINT) <=
CAST(EXTRACT(EPOCH FROM coalesce(sessions_1.ended_at, sessions_1.ends_at)) * 1000000 AS
BIGINT) + CASE WHEN (sessions_1.route = $10) THEN $11::BIGINT WHEN (sessions_1.route = $12)
THEN $13::BIGINT WHEN (sessions_1.route = $14) THEN $15::BIGINT WHEN (sessions_1.route =
$16) THEN $17::BIGINT WHEN (sessions_1.route = $18) THEN $19::BIGINT ELSE $20::BIGINT END *
$21::BIGINT) THEN $22::VARCHAR ELSE $23::VARCHAR END != $24::VARCHAR AND clients.archived IS
false ORDER BY sessions.starts_at, sessions.id LIMIT $25::INTEGER
"""

UNBOOKED_OF_CLINICIAN = """
SELECT sessions.id, sessions.clinic_id, sessions.client_id, sessions.clinician_id,
sessions.kind, sessions.status, sessions.starts_at, sessions.ends_at, sessions.ended_at,
sessions.cancellation_reason, sessions.location, sessions.notes, sessions.external_source,
sessions.external_id, sessions.topics, sessions.route, sessions.dose_mg, sessions.weight_kg,
sessions.medication, sessions.lot_number, sessions.vitals, sessions.adverse_events,
sessions.dosed_at, sessions.discharged_at, sessions.transport_confirmed,
sessions.rems_form_submitted_at, sessions.pre_dose_systolic_peak,
sessions.pre_dose_diastolic_peak, sessions.ketamine_session_id, sessions.created_at,
sessions.updated_at, sessions.version FROM sessions JOIN clients ON clients.id =
sessions.client_id WHERE sessions.clinic_id = $1::UUID AND sessions.kind = $2 AND
coalesce(sessions.ended_at, sessions.ends_at) >= $3::TIMESTAMP WITH TIME ZONE AND CASE WHEN
((sessions.status NOT IN ($41, $42))) THEN $4::VARCHAR WHEN (EXISTS (SELECT * FROM sessions
AS sessions_1 WHERE sessions_1.clinic_id = sessions.clinic_id AND sessions_1.client_id =
sessions.client_id AND sessions_1.kind = $5 AND sessions_1.status IN ($43, $44) AND
coalesce((SELECT sessions_2.id FROM sessions AS sessions_2 WHERE sessions_2.id =
sessions_1.ketamine_session_id AND sessions_2.kind = $6 AND sessions_2.status IN ($45,
$46)), (SELECT sessions_3.id FROM sessions AS sessions_3 WHERE sessions_3.clinic_id =
sessions_1.clinic_id AND sessions_3.client_id = sessions_1.client_id AND sessions_3.kind =
$7 AND sessions_3.status IN ($47, $48) AND sessions_3.starts_at <= sessions_1.starts_at
ORDER BY sessions_3.starts_at DESC, sessions_3.id DESC LIMIT $8::INTEGER)) = sessions.id AND
CAST(EXTRACT(EPOCH FROM sessions_1.starts_at) * 1000000 AS BIGINT) >= CAST(EXTRACT(EPOCH
FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + $9::BIGINT AND
CAST(EXTRACT(EPOCH FROM sessions_1.starts_at) * 1000000 AS BIGINT) <= CAST(EXTRACT(EPOCH
FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN
(sessions.route = $10) THEN $11::BIGINT WHEN (sessions.route = $12) THEN $13::BIGINT WHEN
(sessions.route = $14) THEN $15::BIGINT WHEN (sessions.route = $16) THEN $17::BIGINT WHEN
(sessions.route = $18) THEN $19::BIGINT ELSE $20::BIGINT END * $21::BIGINT)) THEN
$22::VARCHAR WHEN ($23::BIGINT <= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $10) THEN $11::BIGINT
WHEN (sessions.route = $12) THEN $13::BIGINT WHEN (sessions.route = $14) THEN $15::BIGINT
WHEN (sessions.route = $16) THEN $17::BIGINT WHEN (sessions.route = $18) THEN $19::BIGINT
ELSE $20::BIGINT END * $21::BIGINT) THEN $24::VARCHAR ELSE $25::VARCHAR END = $26::VARCHAR
AND clients.archived IS false AND sessions.clinician_id = $27::UUID ORDER BY
CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT)
+ CASE WHEN (sessions.route = $28) THEN $29::BIGINT WHEN (sessions.route = $30) THEN
$31::BIGINT WHEN (sessions.route = $32) THEN $33::BIGINT WHEN (sessions.route = $34) THEN
$35::BIGINT WHEN (sessions.route = $36) THEN $37::BIGINT ELSE $38::BIGINT END * $39::BIGINT,
sessions.id LIMIT $40::INTEGER
"""

OUTSIDE_WINDOW_OF_CLINICIAN = """
SELECT sessions.id, sessions.clinic_id, sessions.client_id, sessions.clinician_id,
sessions.kind, sessions.status, sessions.starts_at, sessions.ends_at, sessions.ended_at,
sessions.cancellation_reason, sessions.location, sessions.notes, sessions.external_source,
sessions.external_id, sessions.topics, sessions.route, sessions.dose_mg, sessions.weight_kg,
sessions.medication, sessions.lot_number, sessions.vitals, sessions.adverse_events,
sessions.dosed_at, sessions.discharged_at, sessions.transport_confirmed,
sessions.rems_form_submitted_at, sessions.pre_dose_systolic_peak,
sessions.pre_dose_diastolic_peak, sessions.ketamine_session_id, sessions.created_at,
sessions.updated_at, sessions.version FROM sessions LEFT OUTER JOIN sessions AS sessions_1
ON sessions_1.id = coalesce((SELECT sessions_2.id FROM sessions AS sessions_2 WHERE
sessions_2.id = sessions.ketamine_session_id AND sessions_2.kind = $1 AND sessions_2.status
IN ($27, $28)), (SELECT sessions_3.id FROM sessions AS sessions_3 WHERE sessions_3.clinic_id
= sessions.clinic_id AND sessions_3.client_id = sessions.client_id AND sessions_3.kind = $2
AND sessions_3.status IN ($29, $30) AND sessions_3.starts_at <= sessions.starts_at ORDER BY
sessions_3.starts_at DESC, sessions_3.id DESC LIMIT $3::INTEGER)) JOIN clients ON clients.id
= sessions.client_id WHERE sessions.clinic_id = $4::UUID AND sessions.kind = $5 AND
sessions.status = $6 AND CASE WHEN (sessions_1.id IS NULL) THEN $7::VARCHAR WHEN
(CAST(EXTRACT(EPOCH FROM sessions.starts_at) * 1000000 AS BIGINT) < CAST(EXTRACT(EPOCH FROM
coalesce(sessions_1.ended_at, sessions_1.ends_at)) * 1000000 AS BIGINT) + $8::BIGINT) THEN
$9::VARCHAR WHEN (CAST(EXTRACT(EPOCH FROM sessions.starts_at) * 1000000 AS BIGINT) <=
CAST(EXTRACT(EPOCH FROM coalesce(sessions_1.ended_at, sessions_1.ends_at)) * 1000000 AS
BIGINT) + CASE WHEN (sessions_1.route = $10) THEN $11::BIGINT WHEN (sessions_1.route = $12)
THEN $13::BIGINT WHEN (sessions_1.route = $14) THEN $15::BIGINT WHEN (sessions_1.route =
$16) THEN $17::BIGINT WHEN (sessions_1.route = $18) THEN $19::BIGINT ELSE $20::BIGINT END *
$21::BIGINT) THEN $22::VARCHAR ELSE $23::VARCHAR END != $24::VARCHAR AND clients.archived IS
false AND sessions.clinician_id = $25::UUID ORDER BY sessions.starts_at, sessions.id LIMIT
$26::INTEGER
"""
FACTS_COLUMNS = (
    "SELECT sessions.id, sessions.client_id, sessions.kind, sessions.status, sessions.route, "
    "sessions.starts_at, sessions.ends_at, sessions.ended_at, sessions.ketamine_session_id "
    "FROM sessions WHERE sessions.clinic_id = $1::UUID AND sessions.client_id IN "
)


def facts_sql(clients: int) -> str:
    """The window facts of `clients` clients: SQLAlchemy expands the IN list per call."""
    ids = ", ".join(f"${n}::UUID" for n in range(2, clients + 2))
    return f"{FACTS_COLUMNS}({ids}) AND sessions.kind IN (${clients + 2}, ${clients + 3})"


# --- Parameters, in the order SQLAlchemy numbers them ---------------------------------------------


def _closing(key: asyncpg.Record) -> list[Any]:
    """The per-route CASE of a window's closing offset: route, seconds, ..., else 0, then the
    microseconds-per-second factor."""
    pairs: list[Any] = []
    for route in ROUTES:
        pairs += [route, key[f"window_closes_{route}_s"]]
    return [*pairs, 0, US_PER_S]


def _us(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def stage_parameters(key: asyncpg.Record, client_id: uuid.UUID, now: datetime) -> list[Any]:
    return [
        "intake",
        "ketamine",
        "preparation",
        "ketamine",
        *_closing(key),
        "ketamine",
        "completed",
        1,
        _us(now),
        "active_treatment",
        "maintenance",
        key["clinic_id"],
        client_id,
        *ANCHORING,
        "completed",
        "scheduled",
    ]


def unbooked_parameters(
    key: asyncpg.Record, clinician_id: uuid.UUID | None, limit: int, now: datetime
) -> list[Any]:
    longest = max(key[f"window_closes_{route}_s"] for route in ROUTES)
    clinician = [] if clinician_id is None else [clinician_id]
    return [
        key["clinic_id"],
        "ketamine",
        now - timedelta(seconds=longest),
        "not_applicable",
        "integration",
        "ketamine",
        "ketamine",
        1,
        key["window_opens_after_s"] * US_PER_S,
        *_closing(key),
        "booked_in_window",
        _us(now),
        "unbooked",
        "missed",
        "unbooked",
        *clinician,
        *_closing(key),
        limit,
        *ANCHORING * 4,
    ]


def outside_parameters(
    key: asyncpg.Record, clinician_id: uuid.UUID | None, limit: int
) -> list[Any]:
    clinician = [] if clinician_id is None else [clinician_id]
    return [
        "ketamine",
        "ketamine",
        1,
        key["clinic_id"],
        "integration",
        "scheduled",
        "no_ketamine_session",
        key["window_opens_after_s"] * US_PER_S,
        "before_window",
        *_closing(key),
        "in_window",
        "after_window",
        "in_window",
        *clinician,
        limit,
        *ANCHORING * 2,
    ]


# --- The two requests -----------------------------------------------------------------------------


class Connection(Protocol):
    """What the handlers use of an asyncpg connection (a recorder stands in for it in run.py)."""

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...
    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None: ...
    async def executemany(self, command: str, args: Sequence[Sequence[Any]]) -> None: ...


def _audit_rows(
    key: asyncpg.Record, action: str, touched: list[tuple[str, str | None]], now: datetime
) -> list[tuple[Any, ...]]:
    request_id = uuid.uuid4().hex
    return [
        (
            uuid.uuid4(),
            key["clinic_id"],
            now,
            key["staff_id"],
            key["role"],
            action,
            resource_type,
            resource_id,
            request_id,
            "127.0.0.1",
            "success",
            200,
            "null",
        )
        for resource_type, resource_id in touched
    ]


def _rows(records: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(record) for record in records]


async def journey(
    connection: Connection, prefix: str, client_id: uuid.UUID, now: datetime
) -> dict[str, Any] | None:
    """The journey's statements; None when there is no such key or client."""
    key = await connection.fetchrow(API_KEY, prefix)
    if key is None:
        return None
    client = await connection.fetchrow(CLIENT_WITH_STAGE, *stage_parameters(key, client_id, now))
    if client is None:
        return None
    sessions = await connection.fetch(CLIENT_SESSIONS, key["clinic_id"], client_id)
    phq9 = await connection.fetchrow(LATEST_PHQ9, key["clinic_id"], client_id, "phq9", 1)
    touched: list[tuple[str, str | None]] = [("client", str(client_id))]
    if phq9 is not None and phq9["self_harm_item_positive"]:
        touched.append(("assessment", str(phq9["id"])))
    touched += [("session", str(session["id"])) for session in sessions]
    await connection.executemany(AUDIT_INSERT, _audit_rows(key, "get_journey", touched, now))
    return {"client": dict(client), "sessions": _rows(sessions), "phq9": phq9 and dict(phq9)}


async def worklist(
    connection: Connection,
    prefix: str,
    clinician_id: uuid.UUID | None,
    limit: int,
    now: datetime,
) -> dict[str, Any] | None:
    """The worklist's statements; None when there is no such key."""
    key = await connection.fetchrow(API_KEY, prefix)
    if key is None:
        return None
    unbooked = await connection.fetch(
        UNBOOKED if clinician_id is None else UNBOOKED_OF_CLINICIAN,
        *unbooked_parameters(key, clinician_id, limit, now),
    )
    outside = await connection.fetch(
        OUTSIDE_WINDOW if clinician_id is None else OUTSIDE_WINDOW_OF_CLINICIAN,
        *outside_parameters(key, clinician_id, limit),
    )
    clients = list({row["client_id"] for row in [*unbooked, *outside]})
    facts: list[asyncpg.Record] = []
    if clients:
        sql = facts_sql(len(clients))
        facts = await connection.fetch(sql, key["clinic_id"], *clients, "ketamine", "integration")
    touched: list[tuple[str, str | None]] = list(
        dict.fromkeys(("session", str(row["id"])) for row in [*unbooked, *outside])
    ) or [("worklist", None)]
    await connection.executemany(
        AUDIT_INSERT, _audit_rows(key, "get_integration_worklist", touched, now)
    )
    # The facts only feed the window rule, which the ceiling does not apply: not returned.
    return {"unbooked": _rows(unbooked), "outside_window": _rows(outside), "facts": len(facts)}


# --- The app --------------------------------------------------------------------------------------


def _prefix(request: Request) -> str:
    """`kap_<prefix>_<secret>` -> prefix, with no checking at all."""
    return request.headers.get("authorization", "").split(" ")[-1].split("_")[1]


def _json(body: dict[str, Any] | None) -> Response:
    if body is None:
        return Response(b'{"status": 404}', status_code=404, media_type="application/json")
    return Response(json.dumps(body, default=str).encode(), media_type="application/json")


def create_app(database_url: str | None = None) -> Starlette:
    dsn = (database_url or os.environ["KAP_DATABASE_URL"]).replace("+asyncpg", "")
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE + MAX_OVERFLOW)
        yield
        await pool.close()

    async def get_journey(request: Request) -> Response:
        assert pool is not None
        client_id = uuid.UUID(request.path_params["client_id"])
        async with pool.acquire() as connection, connection.transaction():
            body = await journey(connection, _prefix(request), client_id, datetime.now(UTC))
        return _json(body)

    async def get_worklist(request: Request) -> Response:
        assert pool is not None
        clinician = request.query_params.get("clinician_id")
        clinician_id = uuid.UUID(clinician) if clinician else None
        limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
        async with pool.acquire() as connection, connection.transaction():
            body = await worklist(
                connection, _prefix(request), clinician_id, limit, datetime.now(UTC)
            )
        return _json(body)

    return Starlette(
        routes=[
            Route("/api/v1/clients/{client_id}/journey", get_journey),
            Route("/api/v1/worklists/integration", get_worklist),
        ],
        lifespan=lifespan,
    )
