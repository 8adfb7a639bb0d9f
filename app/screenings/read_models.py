"""Screening rows and clearances -> their read schemas, noted in the audit trail as read."""

from app.audit.trail import note_read
from app.screenings.models import Screening
from app.screenings.rules import MedicalClearance
from app.screenings.schemas import (
    BloodPressureRead,
    Contraindications,
    MedicalClearanceRead,
    ScreeningRead,
)


def to_read(screening: Screening) -> ScreeningRead:
    note_read("screening", screening.id)
    pressure = None
    if screening.systolic is not None and screening.diastolic is not None:
        pressure = BloodPressureRead(systolic=screening.systolic, diastolic=screening.diastolic)
    return ScreeningRead(
        id=screening.id,
        client_id=screening.client_id,
        screened_at=screening.screened_at,
        screened_by=screening.screened_by,
        contraindications=Contraindications.model_validate(screening.contraindications),
        blood_pressure=pressure,
        decision=screening.decision,
        decided_by=screening.decided_by,
        override_reason=screening.override_reason,
        valid_until=screening.valid_until,
        notes=screening.notes,
        version=screening.version,
        created_at=screening.created_at,
    )


def clearance_read(clearance: MedicalClearance) -> MedicalClearanceRead:
    """The summary on a client read; the screenings it names count as read."""
    for screening_id in (clearance.screening_id, clearance.pending_screening_id):
        if screening_id is not None:
            note_read("screening", screening_id)
    return MedicalClearanceRead(
        status=clearance.status,
        screening_id=clearance.screening_id,
        valid_until=clearance.valid_until,
        pending_screening_id=clearance.pending_screening_id,
    )
