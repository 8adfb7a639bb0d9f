"""Audit event schemas and filters."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from app.audit.models import Outcome
from app.common.schemas import Id, OutputModel, UTCTimestamp


class AuditEventRead(OutputModel):
    """Who did what to which resource, when and from where. Never the data itself."""

    id: Id
    at: UTCTimestamp
    actor_id: Id | None
    actor_role: str | None
    action: str
    resource_type: str
    resource_id: str | None
    request_id: str = Field(
        description="The service's id of the request: the `X-Request-ID` of its response and the "
        "`request_id` of its log line."
    )
    client_request_id: str | None = Field(
        description="The `X-Request-ID` the caller sent, if it sent a valid one (1 to 128 of "
        "`A-Za-z0-9._:-`); kept beside `request_id`, never in its place."
    )
    ip: str | None
    outcome: Outcome
    status_code: int
    changed_fields: list[str] | None

    @classmethod
    def from_item(cls, item: Any) -> "AuditEventRead":
        """One (stored event, resource) item. Position 0 keeps the event's id; a further
        resource of the same event gets an id derived from it, so that ids stay unique."""
        read = cls.model_validate(item)
        if item.position:
            return read.model_copy(update={"id": item_id(item.id, item.position)})
        return read


def item_id(event_id: uuid.UUID, position: int) -> uuid.UUID:
    """The id of the item at `position` (>= 1) of a stored event: stable, never stored."""
    return uuid.uuid5(event_id, str(position))


@dataclass(frozen=True)
class AuditFilters:
    actor_id: uuid.UUID | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None
