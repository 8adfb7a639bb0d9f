"""The query parameters of the audit trail's list and export, as a FastAPI dependency."""

import uuid
from typing import Annotated

from fastapi import Depends, Query

from app.audit.models import Outcome
from app.audit.schemas import AuditFilters
from app.common.schemas import InputTimestamp


class AuditQuery:
    """Filters shared by the audit list and its export."""

    def __init__(
        self,
        actor_id: Annotated[uuid.UUID | None, Query()] = None,
        resource_type: Annotated[
            str | None, Query(max_length=40, examples=["client", "session", "staff"])
        ] = None,
        resource_id: Annotated[str | None, Query(max_length=64)] = None,
        action: Annotated[
            str | None, Query(max_length=80, description="The operationId, e.g. get_client.")
        ] = None,
        outcome: Annotated[Outcome | None, Query()] = None,
        since: Annotated[InputTimestamp | None, Query(description="At or after.")] = None,
        until: Annotated[InputTimestamp | None, Query(description="Before.")] = None,
    ) -> None:
        self.filters = AuditFilters(
            actor_id, resource_type, resource_id, action, outcome, since, until
        )


AuditQueryDep = Annotated[AuditQuery, Depends()]
