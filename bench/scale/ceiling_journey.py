"""The ceiling's journey: `GET /api/v1/clients/{client_id}/journey` as the app's statements.

The statements are the app's, pasted in verbatim but for whitespace (bench/scale/ceiling.py says
how they were captured; ceiling_check.py refuses to measure if they drift). What repeats between
them is the app's own: each is what it sends.
"""

import uuid
from datetime import datetime
from typing import Any

from bench.scale.ceiling_shared import (
    API_KEY,
    SESSION_COLUMNS,
    Connection,
    rows,
    write_audit,
)

# --- The statements, as captured ------------------------------------------------------------------

CLIENT = """
SELECT clients.id FROM clients WHERE clients.clinic_id = $1::UUID AND clients.id = $2::UUID
"""

CLIENT_SESSIONS = f"""
SELECT {SESSION_COLUMNS} FROM
sessions WHERE sessions.clinic_id = $1::UUID AND sessions.client_id = $2::UUID ORDER BY
sessions.starts_at, sessions.id
"""  # noqa: S608 - constant SQL text, nothing from a request

SCREENINGS = """
SELECT screenings.id, screenings.screened_at, screenings.created_at, screenings.decision,
screenings.valid_until FROM screenings WHERE screenings.clinic_id = $1::UUID AND
screenings.client_id = $2::UUID
"""

CONSENTS = """
SELECT consents.id, consents.clinic_id, consents.client_id, consents.kind,
consents.document_version, consents.signed_at, consents.expires_at, consents.recorded_by,
consents.withdrawn_at, consents.withdrawn_by, consents.withdrawal_reason, consents.created_at,
consents.updated_at, consents.version FROM consents WHERE consents.clinic_id = $1::UUID AND
consents.client_id = $2::UUID ORDER BY consents.signed_at, consents.id
"""

OPEN_SAFETY_REVIEWS = """
SELECT safety_reviews.id, safety_reviews.clinic_id, safety_reviews.client_id,
safety_reviews.assessment_id, safety_reviews.opened_at, safety_reviews.status,
safety_reviews.resolved_at, safety_reviews.resolved_by, safety_reviews.action,
safety_reviews.note, safety_reviews.version, assessments.session_id, assessments.administered_at
FROM safety_reviews JOIN assessments ON assessments.id = safety_reviews.assessment_id AND
assessments.clinic_id = safety_reviews.clinic_id WHERE safety_reviews.clinic_id = $1::UUID AND
safety_reviews.client_id = $2::UUID AND safety_reviews.status = $3::VARCHAR ORDER BY
safety_reviews.opened_at, safety_reviews.id
"""


# --- The request ----------------------------------------------------------------------------------


async def journey(
    connection: Connection, prefix: str, client_id: uuid.UUID, now: datetime
) -> dict[str, Any] | None:
    """The journey's statements; None when there is no such key or client."""
    key = await connection.fetchrow(API_KEY, prefix)
    if key is None:
        return None
    client = await connection.fetchrow(CLIENT, key["clinic_id"], client_id)
    if client is None:
        return None
    sessions = await connection.fetch(CLIENT_SESSIONS, key["clinic_id"], client_id)
    # The dosing gate's alerts read screenings and consents only for a scheduled dose, and only
    # when the clinic's gate is on (app/sessions/gate.py); a clinical role is asking (admin).
    gate_on = key["require_medical_clearance"] or key["require_consent"]
    scheduled = any(s["kind"] == "ketamine" and s["status"] == "scheduled" for s in sessions)
    if gate_on and scheduled:
        await connection.fetch(SCREENINGS, key["clinic_id"], client_id)
        await connection.fetch(CONSENTS, key["clinic_id"], client_id)
    reviews = await connection.fetch(OPEN_SAFETY_REVIEWS, key["clinic_id"], client_id, "open")
    touched: list[tuple[str, str | None]] = [("client", str(client_id))]
    touched += [("session", str(session["id"])) for session in sessions]
    for review in reviews:
        touched += [
            ("safety_review", str(review["id"])),
            ("assessment", str(review["assessment_id"])),
        ]
    await write_audit(connection, key, "get_journey", touched, now)
    return {"client": dict(client), "sessions": rows(sessions), "reviews": rows(reviews)}
