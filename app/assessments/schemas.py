"""Assessment schemas: item scores in; totals, bands, trajectories and measures out.

Every value that carries a clinical number says what it means and where the number comes from,
with a link to its row in the clinical-evidence page.
"""

import uuid
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from app.assessments.measures import MeasureStatus
from app.assessments.models import AssessmentSource
from app.assessments.scoring import Instrument, Severity
from app.common.schemas import Id, InputModel, InputTimestamp, UTCTimestamp


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


BANDS = "Evidence: [phq9-gad7-bands](/docs/clinical-evidence#phq9-gad7-bands)"
PCL5 = "Evidence: [pcl5-cutoff](/docs/clinical-evidence#pcl5-cutoff)"
MEASURES = "Evidence: [measures-cms159](/docs/clinical-evidence#measures-cms159)"
SEVERITY = (
    "The published severity band of the total: PHQ-9 0-4 minimal, 5-9 mild, 10-14 moderate, "
    "15-19 moderately severe, 20-27 severe (Kroenke, Spitzer & Williams 2001); GAD-7 0-4 "
    "minimal, 5-9 mild, 10-14 moderate, 15-21 severe (Spitzer et al. 2006). Null for PCL-5, "
    f"which has no validated bands. {BANDS}"
)


class AssessmentRead(BaseModel):
    """One administration with what the service derived from its item scores."""

    id: Id
    client_id: Id
    session_id: Id | None
    instrument: Instrument
    administered_at: UTCTimestamp
    item_scores: list[int]
    total: int = Field(
        description="The sum of the item scores: PHQ-9 0-27, GAD-7 0-21, PCL-5 0-80 (Kroenke "
        f"2001, Spitzer 2006, Blevins 2015). {BANDS}"
    )
    severity: Severity | None = Field(description=SEVERITY)
    probable_ptsd: bool | None = Field(
        description="PCL-5: the total is at or above the clinic's probable-PTSD cut-off "
        "(`clinical_policy.pcl5_probable_ptsd_cutoff`, default 33; published cut-offs run "
        "31-33, Blevins 2015 / Bovin 2016). A screening result, not a diagnosis. Null for the "
        f"others. {PCL5}"
    )
    provisional_dsm5: bool | None = Field(
        description="PCL-5: the DSM-5 symptom-cluster rule, counting items scored 2 or more: "
        "B (items 1-5) at least 1, C (6-7) at least 1, D (8-14) at least 2, E (15-20) at least 2 "
        f"(Blevins 2015). Null for the others. {PCL5}"
    )
    self_harm_item_positive: bool = Field(
        description="PHQ-9 item 9 (thoughts of being better off dead or of self-harm) is above 0, "
        "which needs a clinician's follow-up whatever the total (AACN; Simon 2013). "
        "Always false for GAD-7 and PCL-5. A positive item 9 opens a safety review "
        "(`/api/v1/safety-reviews`). Evidence: [phq9-item-9](/docs/clinical-evidence#phq9-item-9)"
    )
    recorded_by: Id = Field(
        description="The staff member who entered it; for a client's self-report, the "
        "clinician who sent the link."
    )
    source: AssessmentSource = Field(
        description="`staff`: entered by staff through this API. `client_self_report`: the "
        "client answered the form of a self-report link "
        "(`/api/v1/clients/{id}/assessment-requests`)."
    )
    created_at: UTCTimestamp


class PointRead(BaseModel):
    """One administration on the trajectory."""

    assessment_id: Id | None
    session_id: Id | None
    administered_at: UTCTimestamp
    total: int = Field(description="The administration's total.")
    severity: Severity | None = Field(description=SEVERITY)


class TrajectoryRead(BaseModel):
    """Snapshot values from the first administration (baseline) to the most recent (latest).

    None of them is a response or a remission: those have an index event and a time frame, and
    are the PHQ-9's `measures`. Values that do not apply to the instrument are null.
    """

    baseline: PointRead | None = Field(description="The first administration (null if none).")
    latest: PointRead | None = Field(description="The most recent administration (null if none).")
    change_from_baseline: int | None = Field(
        description="latest.total - baseline.total, in points: negative is improvement. "
        "0 with a single administration."
    )
    percent_change_from_baseline: float | None = Field(
        description="change_from_baseline as a percentage of the baseline total, rounded half "
        "away from zero to one decimal; null when the baseline total is 0."
    )
    halved_from_baseline: bool | None = Field(
        description="PHQ-9 / GAD-7: the latest total is at most half the baseline's (a reduction "
        "of 50 % or more, exactly half included). A snapshot with no time frame, not the NQF 1885 "
        "response (see `measures.response_12m`). Null for PCL-5 and when the baseline is 0. "
        f"{MEASURES}"
    )
    latest_below_5: bool | None = Field(
        description="PHQ-9 / GAD-7: the latest total is below 5, the 'minimal' band (Kroenke 2001, "
        "Spitzer 2006). A snapshot, not the CMS159 remission (see `measures.remission_12m`). "
        f"Null for PCL-5. {BANDS}"
    )
    latest_below_cutoff: bool | None = Field(
        description="PCL-5: the latest total is below the clinic's probable-PTSD cut-off "
        "(default 33; published 31-33, Blevins 2015 / Bovin 2016), i.e. it no longer screens "
        f"positive. No source calls this remission. Null for PHQ-9 and GAD-7. {PCL5}"
    )
    reliable_change: bool | None = Field(
        description="PCL-5: the latest total is at least 5 points below the baseline (a drop; a "
        "rise never counts), the reliable-change threshold of Blevins 2015 / Bovin 2016. "
        f"Null for PHQ-9 and GAD-7. {PCL5}"
    )
    clinically_meaningful_change: bool | None = Field(
        description="PCL-5: the latest total is at least 10 points below the baseline (a drop), "
        "the clinically meaningful change of Blevins 2015 / Bovin 2016. Null for PHQ-9 and "
        f"GAD-7. {PCL5}"
    )
    points: list[PointRead] = Field(description="Every administration, oldest first.")


class IndexRead(BaseModel):
    """The index PHQ-9 of CMS159 / NQF 0710: the client's first PHQ-9 with a total above 9."""

    assessment_id: Id
    administered_at: UTCTimestamp
    total: int = Field(description=f"The index total, above 9. {MEASURES}")


class MeasureRead(BaseModel):
    """One twelve-month measure as of now."""

    status: MeasureStatus = Field(
        description="`not_due`: the period has not begun. `open`: inside the period, no PHQ-9 in "
        "it yet. `met` / `not_met`: the latest PHQ-9 in the period decides. `no_assessment`: the "
        f"period is over with no PHQ-9 in it. {MEASURES}"
    )
    final: bool = Field(
        description="True once now is after period_end: the status can no longer change."
    )
    period_start: UTCTimestamp = Field(
        description=f"index.administered_at + 305 days (12 months - 60 days), included. {MEASURES}"
    )
    period_end: UTCTimestamp = Field(
        description=f"index.administered_at + 425 days (12 months + 60 days), included. {MEASURES}"
    )
    assessment_id: Id | None = Field(
        description="The PHQ-9 that decided the status (the latest in the period); null while "
        "none has."
    )


class MeasuresRead(BaseModel):
    """Depression remission and response at twelve months, per CMS159 v14 / NQF 0710 and NQF
    1885. All three are null when the client has no PHQ-9 above 9."""

    index: IndexRead | None = Field(
        description=f"The first PHQ-9 with a total above 9; a later one never moves it. {MEASURES}"
    )
    remission_12m: MeasureRead | None = Field(
        description="CMS159 v14 / NQF 0710 depression remission at twelve months: `met` when the "
        f"latest PHQ-9 in the period totals below 5. {MEASURES}"
    )
    response_12m: MeasureRead | None = Field(
        description="NQF 1885 depression response at twelve months: `met` when the latest PHQ-9 "
        "in the period totals at most half the index total (a reduction of 50 % or more, "
        f"exactly half included). {MEASURES}"
    )


class Phq9TrajectoryRead(TrajectoryRead):
    """The PHQ-9 trajectory, with the twelve-month measures."""

    measures: MeasuresRead


class Trajectories(BaseModel):
    """Each instrument's trajectory for one client."""

    phq9: Phq9TrajectoryRead
    gad7: TrajectoryRead
    pcl5: TrajectoryRead
