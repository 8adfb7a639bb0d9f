"""Reading and changing a clinic's settings and window policy."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.clinics.models import ROUTE_CLOSE_COLUMNS, Clinic
from app.clinics.schemas import (
    ClinicalPolicyPatch,
    ClinicUpdate,
)
from app.errors import ValidationFailed
from app.sessions.enums import Route


def seconds(hours: float) -> int:
    """Stored resolution is one second."""
    return round(hours * 3600)


CLINICAL_COLUMNS = {
    "pcl5_probable_ptsd_cutoff": "pcl5_cutoff",
    "esketamine_min_monitoring_minutes": "esketamine_min_monitoring_minutes",
    "rems_form_due_days": "rems_form_due_days",
    "require_medical_clearance": "require_medical_clearance",
    "require_consent": "require_consent",
    "screening_valid_days": "screening_valid_days",
}


def _apply_clinical_policy(clinic: Clinic, policy: ClinicalPolicyPatch) -> None:
    for name, value in policy.model_dump(exclude_none=True, exclude={"pre_dose_bp_max"}).items():
        setattr(clinic, CLINICAL_COLUMNS[name], value)
    if policy.pre_dose_bp_max is not None:
        clinic.pre_dose_systolic_max = (
            policy.pre_dose_bp_max.systolic or clinic.pre_dose_systolic_max
        )
        clinic.pre_dose_diastolic_max = (
            policy.pre_dose_bp_max.diastolic or clinic.pre_dose_diastolic_max
        )


async def load(db: AsyncSession, clinic_id: uuid.UUID) -> Clinic:
    """The caller's clinic as an entity, to change it."""
    clinic = await db.get(Clinic, clinic_id)
    if clinic is None:  # the key that authenticated this request belongs to it
        raise LookupError(f"clinic {clinic_id} vanished during the request")
    return clinic


async def update_clinic(db: AsyncSession, clinic: Clinic, changes: ClinicUpdate) -> Clinic:
    """Apply a partial update; the policy must still open before it closes on every route."""
    if changes.name is not None:
        clinic.name = changes.name
    if changes.timezone is not None:
        clinic.timezone = changes.timezone
    if changes.require_completed_preparation is not None:
        clinic.require_completed_preparation = changes.require_completed_preparation
    if changes.clinical_policy is not None:
        _apply_clinical_policy(clinic, changes.clinical_policy)
    policy = changes.window_policy
    if policy is not None:
        if policy.opens_after_hours is not None:
            clinic.window_opens_after_s = seconds(policy.opens_after_hours)
        if policy.closing_soon_hours is not None:
            clinic.closing_soon_s = seconds(policy.closing_soon_hours)
        if policy.closes_after_hours is not None:
            for route, hours in policy.closes_after_hours.model_dump(exclude_none=True).items():
                setattr(clinic, ROUTE_CLOSE_COLUMNS[Route(route)], seconds(hours))
    for route, column in ROUTE_CLOSE_COLUMNS.items():
        if getattr(clinic, column) <= clinic.window_opens_after_s:
            raise ValidationFailed(
                f"The {route.value} window must close after it opens.",
                loc=("body", "window_policy", "closes_after_hours", route.value),
                kind="window_closes_before_opening",
            )
    await db.flush()
    note_change("clinic", clinic.id, sorted(changes.model_dump(exclude_unset=True)))
    return clinic
