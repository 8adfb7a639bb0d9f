"""The query parameters of the session lists, as a FastAPI dependency."""

import uuid
from typing import Annotated

from fastapi import Depends, Query

from app.common.schemas import InputTimestamp
from app.sessions import repository
from app.sessions.enums import SessionStatus


class SessionQuery:
    """Filters shared by the three session lists."""

    def __init__(
        self,
        client_id: Annotated[uuid.UUID | None, Query()] = None,
        clinician_id: Annotated[uuid.UUID | None, Query()] = None,
        status: Annotated[SessionStatus | None, Query()] = None,
        starts_after: Annotated[
            InputTimestamp | None, Query(description="Sessions starting at or after this instant.")
        ] = None,
        starts_before: Annotated[
            InputTimestamp | None, Query(description="Sessions starting before this instant.")
        ] = None,
    ) -> None:
        self.filters = repository.SessionFilters(
            client_id=client_id,
            clinician_id=clinician_id,
            status=status,
            starts_after=starts_after,
            starts_before=starts_before,
        )


SessionFiltersDep = Annotated[SessionQuery, Depends()]
