"""The ceiling's clinic read: `GET /api/v1/clinic` as the app's statements.

The pipeline's floor. The app answers it from the principal it built anyway, so it sends only
the key lookup and the audit row every request writes (both in ceiling_shared.py): what is left
of our cost is the framework's own per request (middleware, routing, dependencies, the unit of
work, the read model and its JSON), which every endpoint pays before it does anything.
"""

from datetime import datetime
from typing import Any

from bench.scale.ceiling_shared import API_KEY, Connection, write_audit

CLINIC_COLUMNS = (
    "name",
    "timezone",
    "require_completed_preparation",
    "window_opens_after_s",
    "closing_soon_s",
    "require_medical_clearance",
    "require_consent",
    "created_at",
    "updated_at",
    "version",
)


async def clinic(connection: Connection, prefix: str, now: datetime) -> dict[str, Any] | None:
    """The clinic read's statements; None when there is no such key."""
    key = await connection.fetchrow(API_KEY, prefix)
    if key is None:
        return None
    await write_audit(connection, key, "get_clinic", [("clinic", str(key["clinic_id"]))], now)
    return {"id": key["clinic_id"], **{column: key[column] for column in CLINIC_COLUMNS}}
