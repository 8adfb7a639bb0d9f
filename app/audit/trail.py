"""The per-request audit trail.

UnitOfWorkRoute opens one per request and writes its rows in the request's own transaction.
Read models note every client and session they expose (`note_read`) and services note what they
change (`note_change`), so completeness does not depend on each route remembering to log.
"""

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.audit.models import Outcome

TAG_RESOURCES = {
    "clients": "client",
    "journeys": "client",
    "preparation-sessions": "session",
    "ketamine-sessions": "session",
    "integration-sessions": "session",
    "worklists": "worklist",
    "staff": "staff",
    "api-keys": "api_key",
    "calendar": "calendar_feed_token",
    "clinic": "clinic",
    "audit": "audit_event",
    "assessments": "assessment",
    "scheduling-integrations": "scheduling_integration",
    "inbound": "inbound_delivery",
    "unmatched-bookings": "unmatched_booking",
    "fhir": "client",
}


@dataclass
class Touch:
    resource_type: str
    resource_id: str | None
    changed_fields: list[str] | None = None


@dataclass
class AuditTrail:
    """What one request read and changed, plus who and where it came from."""

    action: str
    resource_type: str
    request_id: str
    ip: str | None
    client_request_id: str | None = None
    touches: dict[tuple[str, str | None], Touch] = field(default_factory=dict)

    def read(self, resource_type: str, resource_id: uuid.UUID | str) -> None:
        self.touches.setdefault(
            (resource_type, str(resource_id)), Touch(resource_type, str(resource_id))
        )

    def change(
        self, resource_type: str, resource_id: uuid.UUID | str, fields: list[str] | None
    ) -> None:
        key = (resource_type, str(resource_id))
        touch = self.touches.get(key)
        merged = sorted(set(fields or []) | set(touch.changed_fields or [] if touch else []))
        self.touches[key] = Touch(resource_type, str(resource_id), merged)

    def rows(
        self,
        *,
        clinic_id: uuid.UUID | None,
        actor_id: uuid.UUID | None,
        actor_role: str | None,
        at: datetime,
        outcome: Outcome,
        status_code: int,
        fallback_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """One row per touched resource, or one for the request itself if it touched none."""
        touches = list(self.touches.values()) or [Touch(self.resource_type, fallback_id)]
        return [
            {
                "id": uuid.uuid4(),
                "clinic_id": clinic_id,
                "at": at,
                "actor_id": actor_id,
                "actor_role": actor_role,
                "action": self.action,
                "resource_type": touch.resource_type,
                "resource_id": touch.resource_id,
                "request_id": self.request_id,
                "client_request_id": self.client_request_id,
                "ip": self.ip,
                "outcome": outcome.value,
                "status_code": status_code,
                "changed_fields": touch.changed_fields,
            }
            for touch in touches
        ]


current_trail: ContextVar[AuditTrail | None] = ContextVar("current_trail", default=None)


def note_read(resource_type: str, resource_id: uuid.UUID | str) -> None:
    """Record that this request exposed a resource (no-op outside a request)."""
    trail = current_trail.get()
    if trail is not None:
        trail.read(resource_type, resource_id)


def note_change(
    resource_type: str, resource_id: uuid.UUID | str, fields: list[str] | None = None
) -> None:
    """Record that this request changed a resource, naming the fields (never their values)."""
    trail = current_trail.get()
    if trail is not None:
        trail.change(resource_type, resource_id, fields)
