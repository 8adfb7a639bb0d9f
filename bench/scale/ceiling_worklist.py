"""The ceiling's worklist: `GET /api/v1/worklists/integration` as the app's statements.

The statements are the app's, pasted in verbatim but for whitespace (bench/scale/ceiling.py says
how they were captured; ceiling_check.py refuses to measure if they drift). What repeats between
them is the app's own: each is what it sends. The clinic-wide and one-clinician variants are
separate statements, as the app sends them.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bench.scale.ceiling_shared import (
    API_KEY,
    ROUTES,
    SESSION_COLUMNS,
    US_PER_S,
    Connection,
    closing_offsets,
    epoch_us,
    rows,
    write_audit,
)

DEFAULT_LIMIT = 50

# --- The statements, as captured ------------------------------------------------------------------

# Sent first on PostgreSQL: the pages run on generic plans (app/journeys/repository.py).
ONE_PLAN_PER_STATEMENT = "SET LOCAL plan_cache_mode = force_generic_plan"

UNBOOKED = f"""
WITH first_unbooked AS (SELECT sessions.id AS id, coalesce(sessions.ended_at, sessions.ends_at) AS
anchor, CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT)
+ CASE WHEN (sessions.route = $1) THEN $2::BIGINT WHEN (sessions.route = $3) THEN $4::BIGINT WHEN
(sessions.route = $5) THEN $6::BIGINT WHEN (sessions.route = $7) THEN $8::BIGINT WHEN
(sessions.route = $9) THEN $10::BIGINT ELSE $11::BIGINT END * $12::BIGINT AS closes FROM sessions
WHERE sessions.clinic_id = $13::UUID AND sessions.kind = $14 AND CASE WHEN (sessions.status IN
('scheduled', 'completed') AND $15::BIGINT <= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $16) THEN $17::BIGINT WHEN
(sessions.route = $18) THEN $19::BIGINT WHEN (sessions.route = $20) THEN $21::BIGINT WHEN
(sessions.route = $22) THEN $23::BIGINT WHEN (sessions.route = $24) THEN $25::BIGINT ELSE
$26::BIGINT END * $27::BIGINT AND NOT (EXISTS (SELECT * FROM sessions AS sessions_1 WHERE
sessions_1.clinic_id = sessions.clinic_id AND sessions_1.client_id = sessions.client_id AND
sessions_1.kind = $28 AND sessions_1.status IN ('scheduled', 'completed') AND sessions_1.starts_at
>= coalesce(sessions.ended_at, sessions.ends_at) AND coalesce((SELECT sessions_2.id FROM sessions AS
sessions_2 WHERE sessions_2.id = sessions_1.ketamine_session_id AND sessions_2.kind IN ('ketamine')
AND sessions_2.status IN ('scheduled', 'completed')), (SELECT sessions_3.id FROM sessions AS
sessions_3 WHERE sessions_3.clinic_id = sessions_1.clinic_id AND sessions_3.client_id =
sessions_1.client_id AND sessions_3.kind IN ('ketamine') AND sessions_3.status IN ('scheduled',
'completed') AND sessions_3.starts_at <= sessions_1.starts_at ORDER BY sessions_3.starts_at DESC,
sessions_3.id DESC LIMIT $29::INTEGER)) = sessions.id AND CAST(EXTRACT(EPOCH FROM
sessions_1.starts_at) * 1000000 AS BIGINT) >= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + $30::BIGINT AND CAST(EXTRACT(EPOCH FROM
sessions_1.starts_at) * 1000000 AS BIGINT) <= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $16) THEN $17::BIGINT WHEN
(sessions.route = $18) THEN $19::BIGINT WHEN (sessions.route = $20) THEN $21::BIGINT WHEN
(sessions.route = $22) THEN $23::BIGINT WHEN (sessions.route = $24) THEN $25::BIGINT ELSE
$26::BIGINT END * $27::BIGINT))) THEN NOT (EXISTS (SELECT clients.id FROM clients WHERE
clients.clinic_id = $13::UUID AND clients.id = sessions.client_id AND clients.archived)) ELSE false
END AND coalesce(sessions.ended_at, sessions.ends_at) >= $31::TIMESTAMP WITH TIME ZONE ORDER BY
coalesce(sessions.ended_at, sessions.ends_at), sessions.id LIMIT $32::INTEGER) SELECT
{SESSION_COLUMNS}
FROM sessions WHERE sessions.id IN (SELECT first_unbooked.id FROM first_unbooked UNION ALL SELECT
sessions.id FROM sessions WHERE sessions.clinic_id = $13::UUID AND sessions.kind = $33 AND CASE WHEN
(sessions.status IN ('scheduled', 'completed') AND $15::BIGINT <= CAST(EXTRACT(EPOCH FROM
coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route =
$34) THEN $35::BIGINT WHEN (sessions.route = $36) THEN $37::BIGINT WHEN (sessions.route = $38) THEN
$39::BIGINT WHEN (sessions.route = $40) THEN $41::BIGINT WHEN (sessions.route = $42) THEN
$43::BIGINT ELSE $44::BIGINT END * $45::BIGINT AND NOT (EXISTS (SELECT * FROM sessions AS sessions_1
WHERE sessions_1.clinic_id = sessions.clinic_id AND sessions_1.client_id = sessions.client_id AND
sessions_1.kind = $46 AND sessions_1.status IN ('scheduled', 'completed') AND sessions_1.starts_at
>= coalesce(sessions.ended_at, sessions.ends_at) AND coalesce((SELECT sessions_2.id FROM sessions AS
sessions_2 WHERE sessions_2.id = sessions_1.ketamine_session_id AND sessions_2.kind IN ('ketamine')
AND sessions_2.status IN ('scheduled', 'completed')), (SELECT sessions_3.id FROM sessions AS
sessions_3 WHERE sessions_3.clinic_id = sessions_1.clinic_id AND sessions_3.client_id =
sessions_1.client_id AND sessions_3.kind IN ('ketamine') AND sessions_3.status IN ('scheduled',
'completed') AND sessions_3.starts_at <= sessions_1.starts_at ORDER BY sessions_3.starts_at DESC,
sessions_3.id DESC LIMIT $47::INTEGER)) = sessions.id AND CAST(EXTRACT(EPOCH FROM
sessions_1.starts_at) * 1000000 AS BIGINT) >= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + $48::BIGINT AND CAST(EXTRACT(EPOCH FROM
sessions_1.starts_at) * 1000000 AS BIGINT) <= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $34) THEN $35::BIGINT WHEN
(sessions.route = $36) THEN $37::BIGINT WHEN (sessions.route = $38) THEN $39::BIGINT WHEN
(sessions.route = $40) THEN $41::BIGINT WHEN (sessions.route = $42) THEN $43::BIGINT ELSE
$44::BIGINT END * $45::BIGINT))) THEN NOT (EXISTS (SELECT clients.id FROM clients WHERE
clients.clinic_id = $13::UUID AND clients.id = sessions.client_id AND clients.archived)) ELSE false
END AND coalesce(sessions.ended_at, sessions.ends_at) >= (SELECT max(first_unbooked.anchor) AS max_1
FROM first_unbooked) AND coalesce(sessions.ended_at, sessions.ends_at) <= (TIMESTAMPTZ 'epoch' +
((SELECT max(first_unbooked.closes) AS max_2 FROM first_unbooked) - $49::BIGINT) * INTERVAL '1
microsecond') AND (sessions.id NOT IN (SELECT first_unbooked.id FROM first_unbooked)) AND
CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + CASE
WHEN (sessions.route = $1) THEN $2::BIGINT WHEN (sessions.route = $3) THEN $4::BIGINT WHEN
(sessions.route = $5) THEN $6::BIGINT WHEN (sessions.route = $7) THEN $8::BIGINT WHEN
(sessions.route = $9) THEN $10::BIGINT ELSE $11::BIGINT END * $12::BIGINT <= (SELECT
max(first_unbooked.closes) AS max_2 FROM first_unbooked)) ORDER BY CAST(EXTRACT(EPOCH FROM
coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route =
$1) THEN $2::BIGINT WHEN (sessions.route = $3) THEN $4::BIGINT WHEN (sessions.route = $5) THEN
$6::BIGINT WHEN (sessions.route = $7) THEN $8::BIGINT WHEN (sessions.route = $9) THEN $10::BIGINT
ELSE $11::BIGINT END * $12::BIGINT, sessions.id LIMIT $32::INTEGER
"""  # noqa: S608 - constant SQL text, nothing from a request

OUTSIDE_WINDOW = f"""
SELECT
{SESSION_COLUMNS}
FROM sessions JOIN (SELECT sessions.id AS id, sessions.starts_at AS starts_at FROM sessions LEFT
OUTER JOIN sessions AS sessions_1 ON sessions_1.kind IN ('ketamine') AND sessions_1.id =
coalesce((SELECT sessions_2.id FROM sessions AS sessions_2 WHERE sessions_2.id =
sessions.ketamine_session_id AND sessions_2.kind IN ('ketamine') AND sessions_2.status IN
('scheduled', 'completed')), (SELECT sessions_3.id FROM sessions AS sessions_3 WHERE
sessions_3.clinic_id = sessions.clinic_id AND sessions_3.client_id = sessions.client_id AND
sessions_3.kind IN ('ketamine') AND sessions_3.status IN ('scheduled', 'completed') AND
sessions_3.starts_at <= sessions.starts_at ORDER BY sessions_3.starts_at DESC, sessions_3.id DESC
LIMIT $1::INTEGER)) WHERE sessions.clinic_id = $2::UUID AND sessions.kind IN ('integration') AND
sessions.status IN ('scheduled') AND CASE WHEN (CASE WHEN (sessions_1.id IS NULL) THEN $3::VARCHAR
WHEN (CAST(EXTRACT(EPOCH FROM sessions.starts_at) * 1000000 AS BIGINT) < CAST(EXTRACT(EPOCH FROM
coalesce(sessions_1.ended_at, sessions_1.ends_at)) * 1000000 AS BIGINT) + $4::BIGINT) THEN
$5::VARCHAR WHEN (CAST(EXTRACT(EPOCH FROM sessions.starts_at) * 1000000 AS BIGINT) <=
CAST(EXTRACT(EPOCH FROM coalesce(sessions_1.ended_at, sessions_1.ends_at)) * 1000000 AS BIGINT) +
CASE WHEN (sessions_1.route = $6) THEN $7::BIGINT WHEN (sessions_1.route = $8) THEN $9::BIGINT WHEN
(sessions_1.route = $10) THEN $11::BIGINT WHEN (sessions_1.route = $12) THEN $13::BIGINT WHEN
(sessions_1.route = $14) THEN $15::BIGINT ELSE $16::BIGINT END * $17::BIGINT) THEN $18::VARCHAR ELSE
$19::VARCHAR END != $20::VARCHAR) THEN NOT (EXISTS (SELECT clients.id FROM clients WHERE
clients.clinic_id = $2::UUID AND clients.id = sessions.client_id AND clients.archived)) ELSE false
END ORDER BY sessions.starts_at, sessions.id LIMIT $21::INTEGER) AS outside_window ON sessions.id =
outside_window.id ORDER BY outside_window.starts_at, outside_window.id
"""  # noqa: S608 - constant SQL text, nothing from a request

UNBOOKED_OF_CLINICIAN = f"""
WITH first_unbooked AS (SELECT sessions.id AS id, coalesce(sessions.ended_at, sessions.ends_at) AS
anchor, CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT)
+ CASE WHEN (sessions.route = $1) THEN $2::BIGINT WHEN (sessions.route = $3) THEN $4::BIGINT WHEN
(sessions.route = $5) THEN $6::BIGINT WHEN (sessions.route = $7) THEN $8::BIGINT WHEN
(sessions.route = $9) THEN $10::BIGINT ELSE $11::BIGINT END * $12::BIGINT AS closes FROM sessions
WHERE sessions.clinic_id = $13::UUID AND sessions.kind = $14 AND CASE WHEN (sessions.status IN
('scheduled', 'completed') AND $15::BIGINT <= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $16) THEN $17::BIGINT WHEN
(sessions.route = $18) THEN $19::BIGINT WHEN (sessions.route = $20) THEN $21::BIGINT WHEN
(sessions.route = $22) THEN $23::BIGINT WHEN (sessions.route = $24) THEN $25::BIGINT ELSE
$26::BIGINT END * $27::BIGINT AND NOT (EXISTS (SELECT * FROM sessions AS sessions_1 WHERE
sessions_1.clinic_id = sessions.clinic_id AND sessions_1.client_id = sessions.client_id AND
sessions_1.kind = $28 AND sessions_1.status IN ('scheduled', 'completed') AND sessions_1.starts_at
>= coalesce(sessions.ended_at, sessions.ends_at) AND coalesce((SELECT sessions_2.id FROM sessions AS
sessions_2 WHERE sessions_2.id = sessions_1.ketamine_session_id AND sessions_2.kind IN ('ketamine')
AND sessions_2.status IN ('scheduled', 'completed')), (SELECT sessions_3.id FROM sessions AS
sessions_3 WHERE sessions_3.clinic_id = sessions_1.clinic_id AND sessions_3.client_id =
sessions_1.client_id AND sessions_3.kind IN ('ketamine') AND sessions_3.status IN ('scheduled',
'completed') AND sessions_3.starts_at <= sessions_1.starts_at ORDER BY sessions_3.starts_at DESC,
sessions_3.id DESC LIMIT $29::INTEGER)) = sessions.id AND CAST(EXTRACT(EPOCH FROM
sessions_1.starts_at) * 1000000 AS BIGINT) >= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + $30::BIGINT AND CAST(EXTRACT(EPOCH FROM
sessions_1.starts_at) * 1000000 AS BIGINT) <= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $16) THEN $17::BIGINT WHEN
(sessions.route = $18) THEN $19::BIGINT WHEN (sessions.route = $20) THEN $21::BIGINT WHEN
(sessions.route = $22) THEN $23::BIGINT WHEN (sessions.route = $24) THEN $25::BIGINT ELSE
$26::BIGINT END * $27::BIGINT))) THEN NOT (EXISTS (SELECT clients.id FROM clients WHERE
clients.clinic_id = $13::UUID AND clients.id = sessions.client_id AND clients.archived)) ELSE false
END AND sessions.clinician_id = $31::UUID AND coalesce(sessions.ended_at, sessions.ends_at) >=
$32::TIMESTAMP WITH TIME ZONE ORDER BY coalesce(sessions.ended_at, sessions.ends_at), sessions.id
LIMIT $33::INTEGER) SELECT
{SESSION_COLUMNS}
FROM sessions WHERE sessions.id IN (SELECT first_unbooked.id FROM first_unbooked UNION ALL SELECT
sessions.id FROM sessions WHERE sessions.clinic_id = $13::UUID AND sessions.kind = $34 AND CASE WHEN
(sessions.status IN ('scheduled', 'completed') AND $15::BIGINT <= CAST(EXTRACT(EPOCH FROM
coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route =
$35) THEN $36::BIGINT WHEN (sessions.route = $37) THEN $38::BIGINT WHEN (sessions.route = $39) THEN
$40::BIGINT WHEN (sessions.route = $41) THEN $42::BIGINT WHEN (sessions.route = $43) THEN
$44::BIGINT ELSE $45::BIGINT END * $46::BIGINT AND NOT (EXISTS (SELECT * FROM sessions AS sessions_1
WHERE sessions_1.clinic_id = sessions.clinic_id AND sessions_1.client_id = sessions.client_id AND
sessions_1.kind = $47 AND sessions_1.status IN ('scheduled', 'completed') AND sessions_1.starts_at
>= coalesce(sessions.ended_at, sessions.ends_at) AND coalesce((SELECT sessions_2.id FROM sessions AS
sessions_2 WHERE sessions_2.id = sessions_1.ketamine_session_id AND sessions_2.kind IN ('ketamine')
AND sessions_2.status IN ('scheduled', 'completed')), (SELECT sessions_3.id FROM sessions AS
sessions_3 WHERE sessions_3.clinic_id = sessions_1.clinic_id AND sessions_3.client_id =
sessions_1.client_id AND sessions_3.kind IN ('ketamine') AND sessions_3.status IN ('scheduled',
'completed') AND sessions_3.starts_at <= sessions_1.starts_at ORDER BY sessions_3.starts_at DESC,
sessions_3.id DESC LIMIT $48::INTEGER)) = sessions.id AND CAST(EXTRACT(EPOCH FROM
sessions_1.starts_at) * 1000000 AS BIGINT) >= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + $49::BIGINT AND CAST(EXTRACT(EPOCH FROM
sessions_1.starts_at) * 1000000 AS BIGINT) <= CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $35) THEN $36::BIGINT WHEN
(sessions.route = $37) THEN $38::BIGINT WHEN (sessions.route = $39) THEN $40::BIGINT WHEN
(sessions.route = $41) THEN $42::BIGINT WHEN (sessions.route = $43) THEN $44::BIGINT ELSE
$45::BIGINT END * $46::BIGINT))) THEN NOT (EXISTS (SELECT clients.id FROM clients WHERE
clients.clinic_id = $13::UUID AND clients.id = sessions.client_id AND clients.archived)) ELSE false
END AND sessions.clinician_id = $31::UUID AND coalesce(sessions.ended_at, sessions.ends_at) >=
(SELECT max(first_unbooked.anchor) AS max_1 FROM first_unbooked) AND coalesce(sessions.ended_at,
sessions.ends_at) <= (TIMESTAMPTZ 'epoch' + ((SELECT max(first_unbooked.closes) AS max_2 FROM
first_unbooked) - $50::BIGINT) * INTERVAL '1 microsecond') AND (sessions.id NOT IN (SELECT
first_unbooked.id FROM first_unbooked)) AND CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at,
sessions.ends_at)) * 1000000 AS BIGINT) + CASE WHEN (sessions.route = $1) THEN $2::BIGINT WHEN
(sessions.route = $3) THEN $4::BIGINT WHEN (sessions.route = $5) THEN $6::BIGINT WHEN
(sessions.route = $7) THEN $8::BIGINT WHEN (sessions.route = $9) THEN $10::BIGINT ELSE $11::BIGINT
END * $12::BIGINT <= (SELECT max(first_unbooked.closes) AS max_2 FROM first_unbooked)) ORDER BY
CAST(EXTRACT(EPOCH FROM coalesce(sessions.ended_at, sessions.ends_at)) * 1000000 AS BIGINT) + CASE
WHEN (sessions.route = $1) THEN $2::BIGINT WHEN (sessions.route = $3) THEN $4::BIGINT WHEN
(sessions.route = $5) THEN $6::BIGINT WHEN (sessions.route = $7) THEN $8::BIGINT WHEN
(sessions.route = $9) THEN $10::BIGINT ELSE $11::BIGINT END * $12::BIGINT, sessions.id LIMIT
$33::INTEGER
"""  # noqa: S608 - constant SQL text, nothing from a request

OUTSIDE_WINDOW_OF_CLINICIAN = f"""
SELECT
{SESSION_COLUMNS}
FROM sessions JOIN (SELECT sessions.id AS id, sessions.starts_at AS starts_at FROM sessions LEFT
OUTER JOIN sessions AS sessions_1 ON sessions_1.kind IN ('ketamine') AND sessions_1.id =
coalesce((SELECT sessions_2.id FROM sessions AS sessions_2 WHERE sessions_2.id =
sessions.ketamine_session_id AND sessions_2.kind IN ('ketamine') AND sessions_2.status IN
('scheduled', 'completed')), (SELECT sessions_3.id FROM sessions AS sessions_3 WHERE
sessions_3.clinic_id = sessions.clinic_id AND sessions_3.client_id = sessions.client_id AND
sessions_3.kind IN ('ketamine') AND sessions_3.status IN ('scheduled', 'completed') AND
sessions_3.starts_at <= sessions.starts_at ORDER BY sessions_3.starts_at DESC, sessions_3.id DESC
LIMIT $1::INTEGER)) WHERE sessions.clinic_id = $2::UUID AND sessions.kind IN ('integration') AND
sessions.status IN ('scheduled') AND CASE WHEN (CASE WHEN (sessions_1.id IS NULL) THEN $3::VARCHAR
WHEN (CAST(EXTRACT(EPOCH FROM sessions.starts_at) * 1000000 AS BIGINT) < CAST(EXTRACT(EPOCH FROM
coalesce(sessions_1.ended_at, sessions_1.ends_at)) * 1000000 AS BIGINT) + $4::BIGINT) THEN
$5::VARCHAR WHEN (CAST(EXTRACT(EPOCH FROM sessions.starts_at) * 1000000 AS BIGINT) <=
CAST(EXTRACT(EPOCH FROM coalesce(sessions_1.ended_at, sessions_1.ends_at)) * 1000000 AS BIGINT) +
CASE WHEN (sessions_1.route = $6) THEN $7::BIGINT WHEN (sessions_1.route = $8) THEN $9::BIGINT WHEN
(sessions_1.route = $10) THEN $11::BIGINT WHEN (sessions_1.route = $12) THEN $13::BIGINT WHEN
(sessions_1.route = $14) THEN $15::BIGINT ELSE $16::BIGINT END * $17::BIGINT) THEN $18::VARCHAR ELSE
$19::VARCHAR END != $20::VARCHAR) THEN NOT (EXISTS (SELECT clients.id FROM clients WHERE
clients.clinic_id = $2::UUID AND clients.id = sessions.client_id AND clients.archived)) ELSE false
END AND sessions.clinician_id = $21::UUID ORDER BY sessions.starts_at, sessions.id LIMIT
$22::INTEGER) AS outside_window ON sessions.id = outside_window.id ORDER BY
outside_window.starts_at, outside_window.id
"""  # noqa: S608 - constant SQL text, nothing from a request
FACTS = """
WITH page_since AS (SELECT sessions_1.client_id AS client_id, min(sessions_1.starts_at) AS since
FROM sessions AS sessions_1 WHERE sessions_1.clinic_id = $1::UUID AND sessions_1.id = ANY
($2::UUID[]) GROUP BY sessions_1.client_id) SELECT sessions.id, sessions.client_id, sessions.kind AS
kind, sessions.status AS status, sessions.route AS route, sessions.starts_at, sessions.ends_at,
sessions.ended_at, sessions.ketamine_session_id FROM sessions LEFT OUTER JOIN page_since ON
page_since.client_id = sessions.client_id WHERE sessions.clinic_id = $1::UUID AND sessions.client_id
= ANY ($3::UUID[]) AND sessions.kind IN ('ketamine', 'integration') AND (sessions.starts_at >=
page_since.since OR sessions.ketamine_session_id = ANY ($2::UUID[]) OR sessions.id IN (SELECT
sessions_2.ketamine_session_id FROM sessions AS sessions_2 JOIN page_since ON page_since.client_id =
sessions_2.client_id WHERE sessions_2.clinic_id = $1::UUID AND sessions_2.starts_at >=
page_since.since AND sessions_2.ketamine_session_id IS NOT NULL) OR sessions.id IN (SELECT
coalesce((SELECT sessions_3.id FROM sessions AS sessions_3 WHERE sessions_3.id =
sessions_4.ketamine_session_id AND sessions_3.kind IN ('ketamine') AND sessions_3.status IN
('scheduled', 'completed')), (SELECT sessions_5.id FROM sessions AS sessions_5 WHERE
sessions_5.clinic_id = sessions_4.clinic_id AND sessions_5.client_id = sessions_4.client_id AND
sessions_5.kind IN ('ketamine') AND sessions_5.status IN ('scheduled', 'completed') AND
sessions_5.starts_at <= sessions_4.starts_at ORDER BY sessions_5.starts_at DESC, sessions_5.id DESC
LIMIT $4::INTEGER)) AS coalesce_1 FROM sessions AS sessions_4 WHERE sessions_4.id = ANY
($5::UUID[])))
"""
"""The window facts that can decide the page (app/windows/repository.py `facts_for_page`): each
client's sessions from its own earliest dose on the page, the integrations linked to the page's
doses, the doses those recent integrations are linked to, and each page integration's anchor."""


# --- Parameters, in the order SQLAlchemy numbers them ---------------------------------------------


def unbooked_parameters(
    key: asyncpg.Record, clinician_id: uuid.UUID | None, limit: int, now: datetime
) -> list[Any]:
    closes_after = [key[f"window_closes_{route}_s"] for route in ROUTES]
    clinician = [] if clinician_id is None else [clinician_id]
    booking_check = ["integration", 1, key["window_opens_after_s"] * US_PER_S]
    return [
        *closing_offsets(key),
        key["clinic_id"],
        "ketamine",
        epoch_us(now),
        *closing_offsets(key),
        *booking_check,
        *clinician,
        now - timedelta(seconds=max(closes_after)),
        limit,
        "ketamine",
        *closing_offsets(key),
        *booking_check,
        min(closes_after) * US_PER_S,
    ]


def outside_parameters(
    key: asyncpg.Record, clinician_id: uuid.UUID | None, limit: int
) -> list[Any]:
    clinician = [] if clinician_id is None else [clinician_id]
    return [
        1,
        key["clinic_id"],
        "no_ketamine_session",
        key["window_opens_after_s"] * US_PER_S,
        "before_window",
        *closing_offsets(key),
        "in_window",
        "after_window",
        "in_window",
        *clinician,
        limit,
    ]


def facts_parameters(
    key: asyncpg.Record,
    clients: list[uuid.UUID],
    unbooked: Sequence[asyncpg.Record],
    outside: Sequence[asyncpg.Record],
) -> list[Any]:
    return [
        key["clinic_id"],
        [row["id"] for row in unbooked],
        clients,
        1,
        [row["id"] for row in outside],
    ]


# --- The request ----------------------------------------------------------------------------------


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
    await connection.execute(ONE_PLAN_PER_STATEMENT)
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
        facts = await connection.fetch(FACTS, *facts_parameters(key, clients, unbooked, outside))
    touched: list[tuple[str, str | None]] = list(
        dict.fromkeys(("session", str(row["id"])) for row in [*unbooked, *outside])
    ) or [("worklist", None)]
    await write_audit(connection, key, "get_integration_worklist", touched, now)
    # The facts only feed the window rule, which the ceiling does not apply: not returned.
    return {"unbooked": rows(unbooked), "outside_window": rows(outside), "facts": len(facts)}
