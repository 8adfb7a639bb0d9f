"""The journey view of one client and the clinic's integration worklist."""

from enum import StrEnum

from pydantic import BaseModel, Field

from app.clients.models import ClientStage
from app.common.schemas import ALWAYS_PRESENT, Id
from app.sessions.schemas import AnySessionRead, IntegrationSessionRead, KetamineSessionRead


class AlertCode(StrEnum):
    integration_unbooked = "integration_unbooked"
    integration_missed = "integration_missed"
    integration_outside_window = "integration_outside_window"
    self_harm_item_positive = "self_harm_item_positive"
    pre_dose_bp_elevated = "pre_dose_bp_elevated"
    monitoring_under_minimum = "monitoring_under_minimum"
    transport_unconfirmed = "transport_unconfirmed"
    rems_form_due = "rems_form_due"
    rems_monitoring_incomplete = "rems_monitoring_incomplete"
    gate_overridden = "gate_overridden"
    # A scheduled dose that would fail the dosing gate if completed as things stand.
    medical_clearance_missing = "medical_clearance_missing"
    consent_missing = "consent_missing"
    rems_enrollment_missing = "rems_enrollment_missing"


class Alert(BaseModel):
    model_config = ALWAYS_PRESENT

    code: AlertCode
    session_id: Id | None = Field(description="Null for alerts about no one session.")
    assessment_id: Id | None = Field(
        default=None, description="The assessment behind a clinical alert (clinical roles only)."
    )
    safety_review_id: Id | None = Field(
        default=None,
        description="`self_harm_item_positive`: the open safety review it stands for (one alert "
        "per open review; resolving the review clears it). "
        "Evidence: [phq9-item-9](/docs/clinical-evidence#phq9-item-9)",
    )
    detail: str


class Journey(BaseModel):
    """Every session of a client in time order, each with its evaluation, and what needs action."""

    client_id: Id
    stage: ClientStage
    sessions: list[AnySessionRead]
    alerts: list[Alert]


class IntegrationWorklist(BaseModel):
    """What a clinic must act on to keep integration inside the window."""

    unbooked: list[KetamineSessionRead] = Field(
        description="Doses whose window has no integration booked yet, soonest-closing first."
    )
    outside_window: list[IntegrationSessionRead] = Field(
        description="Scheduled integration sessions that do not fall inside their window."
    )
