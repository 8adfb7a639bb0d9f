"""The ceiling: a bare Starlette app on asyncpg sending the same SQL as our two read endpoints.

It answers `GET /api/v1/clients/{client_id}/journey` and `GET /api/v1/worklists/integration`
(and `GET /api/v1/clinic`, the pipeline's floor: bench/scale/ceiling_clinic.py) with the
statements our API sends for them, in the same order, in one transaction per request on a pool
of the same size, and returns the rows as JSON. It does nothing else: no key check
(the key's prefix only finds the clinic, as our first statement does), no validation, no ORM, no
window rule, no pydantic, no middleware. What our API costs above this is the price of the
framework and of everything it does with the rows.

The statements were captured from the app's own code path with `python -m bench.scale.capture`
(SQLAlchemy's before_cursor_execute event on the app's engine, 2026-11-27, after the open-window
index change; the audit inserts again on 2026-12-04, after the audit redesign) and pasted in as
literal SQL, one module per endpoint: bench/scale/ceiling_journey.py and ceiling_worklist.py,
with the key lookup and audit inserts both send in ceiling_shared.py; only whitespace differs.
Like the app since issue 17's audit redesign, a request writes one `audit_events` row (its first
resource) and, only if it read more, one INSERT ... SELECT of `audit_event_resources` rows for
the others from three arrays (recaptured 2026-12-05, with the worklist's `= ANY` and inline
status lists; the worklist's window facts again on 2026-12-06, bounded to what can decide the
page; and the worklist's two reads once more the same day, the booking check bounded by the
dose's anchor time and a client's archived flag read per row instead of joined; on 2026-12-07
the unbooked page in two steps in T(K) order, and the archived test as a probe of the archived
clients' index; later that day the `SET LOCAL plan_cache_mode` the worklist sends before its
pages on PostgreSQL, and the archived test asked of the clinic's archived clients, on the
outside-window page only for the sessions the rule keeps; on 2026-12-08 the outside-window page
as its ids, judged from partial indexes, then its rows, and the sessions' kinds written into
every worklist statement's text).
`bench.scale.run` captures them again before it measures (bench/scale/ceiling_check.py) and
refuses to run if any differs, so the ceiling cannot drift from the app. Left out on purpose:
the once-a-minute `UPDATE api_keys SET last_used_at` (absent from steady-state requests anyway).

    KAP_DATABASE_URL=postgresql://... uvicorn bench.scale.ceiling:create_app --factory
"""

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.scale.ceiling_clinic import clinic
from bench.scale.ceiling_journey import journey
from bench.scale.ceiling_worklist import DEFAULT_LIMIT, worklist

POOL_SIZE = 10  # SQLAlchemy's pool_size (app/config.py database_pool_size) ...
MAX_OVERFLOW = 10  # ... and max_overflow (app/db.py create_engine)


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
        # Idle connections kept, as SQLAlchemy's pool keeps ours (asyncpg's default closes
        # them after 5 idle minutes): the same server settings on both sides.
        pool = await asyncpg.create_pool(
            dsn,
            min_size=POOL_SIZE,
            max_size=POOL_SIZE + MAX_OVERFLOW,
            max_inactive_connection_lifetime=0,
        )
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

    async def get_clinic(request: Request) -> Response:
        assert pool is not None
        async with pool.acquire() as connection, connection.transaction():
            body = await clinic(connection, _prefix(request), datetime.now(UTC))
        return _json(body)

    return Starlette(
        routes=[
            Route("/api/v1/clinic", get_clinic),
            Route("/api/v1/clients/{client_id}/journey", get_journey),
            Route("/api/v1/worklists/integration", get_worklist),
        ],
        lifespan=lifespan,
    )
