"""The audit trail of one unit of work.

Each unit of work (a request, a worker task: app/unit_of_work.py) keeps one and writes its rows
in its own transaction. Read models note every client and session they expose (`note_read`) and
services note what they change (`note_change`), so completeness does not depend on each route
remembering to log.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.audit.models import Outcome
from app.common.scope import current_work

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
    "assessment-requests": "assessment_request",
    "consents": "consent",
    "safety-reviews": "safety_review",
    "screenings": "screening",
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
    """What one unit of work read and changed, plus where it came from. `subject_id` is the
    resource a request named in its path: its row's id when it touched nothing else."""

    action: str
    resource_type: str
    request_id: str
    ip: str | None
    client_request_id: str | None = None
    subject_id: str | None = None
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

    @contextmanager
    def undone_on_error(self) -> Iterator[None]:
        """Forget what the block noted if it raises: what a rolled-back part did, did not happen."""
        kept = dict(self.touches)
        try:
            yield
        except BaseException:
            self.touches = kept
            raise

    def rows(
        self,
        *,
        clinic_id: uuid.UUID | None,
        actor_id: uuid.UUID | None,
        actor_role: str | None,
        at: datetime,
        outcome: Outcome,
        status_code: int,
    ) -> "AuditRows":
        """One row per changed resource (with its field names), one row for everything the work
        only read (the first resource on the row, the others as `audit_event_resources`), or one
        for the work itself if it touched nothing (issue 17: a journey read is one row)."""
        touches = list(self.touches.values()) or [Touch(self.resource_type, self.subject_id)]
        changes = [t for t in touches if t.changed_fields is not None]
        reads = [t for t in touches if t.changed_fields is None]
        out = AuditRows()

        def event(touch: Touch) -> uuid.UUID:
            event_id = uuid.uuid4()
            out.events.append(
                {
                    "id": event_id,
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
            )
            return event_id

        for touch in changes:
            event(touch)
        if reads:
            event_id = event(reads[0])
            out.resources.extend(
                {
                    "event_id": event_id,
                    "position": position,
                    "at": at,
                    "clinic_id": clinic_id,
                    "resource_type": touch.resource_type,
                    "resource_id": touch.resource_id,
                }
                for position, touch in enumerate(reads[1:], start=1)
            )
        return out


@dataclass
class AuditRows:
    """What one unit of work inserts: `audit_events` rows and `audit_event_resources` rows."""

    events: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)


def note_read(resource_type: str, resource_id: uuid.UUID | str) -> None:
    """Record that this unit of work exposed a resource (no-op outside one)."""
    work = current_work.get()
    if work is not None:
        work.note_read(resource_type, resource_id)


def note_change(
    resource_type: str, resource_id: uuid.UUID | str, fields: list[str] | None = None
) -> None:
    """Record that this unit of work changed a resource, naming the fields (never their values)."""
    work = current_work.get()
    if work is not None:
        work.note_change(resource_type, resource_id, fields)
