"""Assessment schemas: item scores in; totals, bands and trajectories out."""

import uuid
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from app.assessments.scoring import Instrument, Severity
from app.common.schemas import InputModel, InputTimestamp, UTCTimestamp


class AssessmentCreate(InputModel):
    """Record one administration. The service computes the total and band; sending one is a 422."""

    instrument: Instrument
    administered_at: InputTimestamp
    item_scores: Annotated[
        list[StrictInt],
        Field(
            max_length=20,
            description="One score per item, in the instrument's order (PHQ-9: 9 items 0-3; "
            "GAD-7: 7 items 0-3; PCL-5: 20 items 0-4).",
            examples=[[2, 2, 1, 2, 1, 1, 2, 1, 0]],
        ),
    ]
    session_id: uuid.UUID | None = Field(
        default=None, description="The session it was given in (the same client's)."
    )


class AssessmentRead(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    session_id: uuid.UUID | None
    instrument: Instrument
    administered_at: UTCTimestamp
    item_scores: list[int]
    total: int
    severity: Severity | None = Field(
        description="PHQ-9 and GAD-7 bands; null for PCL-5. "
        "Evidence: [bands](/docs/clinical-evidence#phq9-gad7-bands)."
    )
    probable_ptsd: bool | None = Field(
        description="PCL-5: total at or above the clinic's cut-off; null for other instruments. "
        "Evidence: [PCL-5 cut-off](/docs/clinical-evidence#pcl5-cutoff)."
    )
    provisional_dsm5: bool | None = Field(
        description="PCL-5: the DSM-5 symptom-cluster rule (items scored 2 or more); else null."
    )
    self_harm_item_positive: bool = Field(
        description="PHQ-9 item 9 above 0: the assessment opened a safety review. "
        "Evidence: /docs/clinical-evidence#phq9-item-9"
    )
    recorded_by: uuid.UUID
    created_at: UTCTimestamp


class PointRead(BaseModel):
    assessment_id: uuid.UUID | None
    session_id: uuid.UUID | None
    administered_at: UTCTimestamp
    total: int
    severity: Severity | None


class TrajectoryRead(BaseModel):
    """From the first administration (baseline) to the most recent (latest)."""

    baseline: PointRead | None
    latest: PointRead | None
    change: int | None = Field(description="latest - baseline: negative is improvement.")
    percent_change: float | None
    response: bool | None = Field(
        description="PHQ-9 / GAD-7: at least 50 % lower than baseline; PCL-5: 5 points lower."
    )
    remission: bool | None = Field(
        description="PHQ-9 / GAD-7: latest below 5; PCL-5: latest below the clinic's cut-off."
    )
    clinically_meaningful_change: bool | None = Field(
        description="PCL-5: 10 points lower than baseline; null for other instruments."
    )
    points: list[PointRead]


class Trajectories(BaseModel):
    """Each instrument's trajectory for one client."""

    phq9: TrajectoryRead
    gad7: TrajectoryRead
    pcl5: TrajectoryRead
