"""A clinic's safety thresholds as a plain value, read once per request."""

from dataclasses import dataclass
from datetime import timedelta

from app.clinics.snapshot import ClinicSettings


@dataclass(frozen=True)
class DosingPolicy:
    """The clinic's safety thresholds, read once per request."""

    pre_dose_systolic_max: int = 140
    pre_dose_diastolic_max: int = 90
    esketamine_min_monitoring: timedelta = timedelta(minutes=120)
    rems_form_due: timedelta = timedelta(days=7)

    @classmethod
    def from_clinic(cls, clinic: ClinicSettings) -> "DosingPolicy":
        return cls(
            pre_dose_systolic_max=clinic.pre_dose_systolic_max,
            pre_dose_diastolic_max=clinic.pre_dose_diastolic_max,
            esketamine_min_monitoring=timedelta(minutes=clinic.esketamine_min_monitoring_minutes),
            rems_form_due=timedelta(days=clinic.rems_form_due_days),
        )
