"""Safety review schemas: the review as read, and the body that resolves it."""

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.common.schemas import FREE_TEXT, Id, InputModel, UTCTimestamp
from app.safety_reviews.models import ResolutionAction, ReviewStatus

EVIDENCE = "Evidence: [phq9-item-9](/docs/clinical-evidence#phq9-item-9)"

# Free text, like session notes: line breaks kept, other control characters refused.
ResolutionNote = Annotated[str, StringConstraints(max_length=4000), FREE_TEXT]


class SafetyReviewRead(BaseModel):
    """The follow-up of one PHQ-9 whose item 9 (thoughts of self-harm) was above 0. It is
    opened with the assessment and stays open, whatever later PHQ-9s score, until a clinician
    resolves it with what was done. Evidence: [phq9-item-9](/docs/clinical-evidence#phq9-item-9)"""

    id: Id
    client_id: Id
    assessment_id: Id = Field(description="The PHQ-9 that opened the review.")
    opened_at: UTCTimestamp = Field(
        description="When the PHQ-9 was recorded. Reviews opened by the upgrade that introduced "
        "them carry the time their PHQ-9 was recorded."
    )
    status: ReviewStatus = Field(
        description="`open` until resolved; while any review of a client is open, the client's "
        f"journey carries the alert `self_harm_item_positive`. {EVIDENCE}"
    )
    resolved_at: UTCTimestamp | None
    resolved_by: Id | None = Field(description="The staff member who resolved it.")
    action: ResolutionAction | None = Field(description="What was done; null while open.")
    note: str | None
    version: int


class ResolveBody(InputModel):
    """Close the review with what was done. `other` needs a note saying what."""

    action: ResolutionAction = Field(
        description="What was done about the positive item 9. With `other`, `note` is required. "
        + EVIDENCE
    )
    note: ResolutionNote | None = Field(
        default=None,
        description="Free text (line breaks kept), up to 4000 characters; required, and not "
        "blank, when `action` is `other`.",
    )
