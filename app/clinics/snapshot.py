"""A clinic's settings as read when a request authenticates: a plain value, not an ORM object.

Every authenticated request reads its clinic with the caller's key (one row); carrying it as a
frozen value instead of a loaded entity spares the identity map, the instrumented attributes and
the flush bookkeeping on every request (docs/performance.md, "Issue 17, third pass"). The one
route that changes a clinic loads the entity itself (app/clinics/router.py).
"""

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Self

from app.clinics.models import Clinic


@dataclass(frozen=True, slots=True)
class ClinicSnapshot:
    """Every column of `clinics`, in the table's order (tests/clinics/test_snapshot.py)."""

    id: uuid.UUID
    name: str
    timezone: str
    require_completed_preparation: bool
    window_opens_after_s: int
    window_closes_iv_s: int
    window_closes_im_s: int
    window_closes_intranasal_s: int
    window_closes_sublingual_s: int
    window_closes_oral_s: int
    closing_soon_s: int
    pcl5_cutoff: int
    pre_dose_systolic_max: int
    pre_dose_diastolic_max: int
    esketamine_min_monitoring_minutes: int
    rems_form_due_days: int
    require_medical_clearance: bool
    require_consent: bool
    screening_valid_days: int
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, clinic: "ClinicSettings") -> Self:
        """The snapshot of a loaded clinic (or the snapshot itself)."""
        if isinstance(clinic, cls):
            return clinic
        return cls(*(getattr(clinic, name) for name in SNAPSHOT_FIELDS))


SNAPSHOT_FIELDS = tuple(field.name for field in fields(ClinicSnapshot))

ClinicSettings = Clinic | ClinicSnapshot
"""A clinic as code that only reads its settings takes it: loaded, or as a request carries it."""
