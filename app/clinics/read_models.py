"""The clinic row -> its read schema: offsets in hours, thresholds grouped as the API shows them."""

from app.clinics.models import ROUTE_CLOSE_COLUMNS
from app.clinics.schemas import (
    BloodPressureMax,
    ClinicalPolicy,
    ClinicRead,
    ClosesAfterHours,
    WindowPolicyRead,
)
from app.clinics.snapshot import ClinicSettings


def to_read(clinic: ClinicSettings) -> ClinicRead:
    return ClinicRead(
        id=clinic.id,
        name=clinic.name,
        timezone=clinic.timezone,
        require_completed_preparation=clinic.require_completed_preparation,
        window_policy=WindowPolicyRead(
            opens_after_hours=clinic.window_opens_after_s / 3600,
            closes_after_hours=ClosesAfterHours(
                **{
                    route.value: getattr(clinic, column) / 3600
                    for route, column in ROUTE_CLOSE_COLUMNS.items()
                }
            ),
            closing_soon_hours=clinic.closing_soon_s / 3600,
        ),
        clinical_policy=ClinicalPolicy(
            pcl5_probable_ptsd_cutoff=clinic.pcl5_cutoff,
            pre_dose_bp_max=BloodPressureMax(
                systolic=clinic.pre_dose_systolic_max, diastolic=clinic.pre_dose_diastolic_max
            ),
            esketamine_min_monitoring_minutes=clinic.esketamine_min_monitoring_minutes,
            rems_form_due_days=clinic.rems_form_due_days,
            require_medical_clearance=clinic.require_medical_clearance,
            require_consent=clinic.require_consent,
            screening_valid_days=clinic.screening_valid_days,
        ),
        version=clinic.version,
    )
