"""Self-report link schemas: what a clinician sends, and what the link's resource shows."""

import uuid
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from app.assessments.scoring import Instrument
from app.common.schemas import Id, InputModel, UTCTimestamp
from app.self_report.models import RequestStatus

DEFAULT_EXPIRES_IN_HOURS = 72
MAX_EXPIRES_IN_HOURS = 336  # two weeks


class AssessmentRequestCreate(InputModel):
    """Ask the client to answer one measure through a link."""

    instrument: Instrument
    expires_in_hours: Annotated[
        StrictInt,
        Field(
            ge=1,
            le=MAX_EXPIRES_IN_HOURS,
            description="How long the link stays open, in hours (1-336, i.e. up to two weeks).",
        ),
    ] = DEFAULT_EXPIRES_IN_HOURS
    session_id: uuid.UUID | None = Field(
        default=None,
        description="The session the answers belong to (one of this client's); the assessment "
        "recorded from the link carries it.",
    )


class AssessmentRequestRead(BaseModel):
    """A self-report link and what became of it."""

    id: Id
    client_id: Id
    session_id: Id | None
    instrument: Instrument
    url: str | None = Field(
        description="The link to send the client: absolute, ending in `/r/<token>`. Present in "
        "the response that created it only: the token is stored hashed, so no later read can "
        "show it (null there), and an idempotent replay of the create is refused rather than "
        "shown without it.",
        # The test of idempotent creates reads this: a response holding it is never replayed.
        json_schema_extra={"x-shown-once": True},
    )
    expires_at: UTCTimestamp
    status: RequestStatus = Field(
        description="`pending`: the link opens the form. `completed`: the client submitted it "
        "(`assessment_id` is the recorded assessment). `expired`: `expires_at` passed unused. "
        "`revoked`: a clinician revoked it unused. Only `pending` opens the form; every other "
        "status answers the link with a 410 page."
    )
    created_at: UTCTimestamp
    created_by: Id = Field(
        description="The clinician who created it; the recorded assessment's `recorded_by`."
    )
    completed_at: UTCTimestamp | None
    assessment_id: Id | None = Field(
        description="The assessment recorded from the client's answers (`source: "
        "client_self_report`)."
    )
    revoked_at: UTCTimestamp | None
    revoked_by: Id | None
    version: int
