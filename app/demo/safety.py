"""The demo's screenings and consents: what a clinic records before a client's first dose.

A screening preparation session that took place records the medical screening (the
prescriber's decision, or `pending` while it awaits one) and the consents the client signed at
it: treatment, and REMS enrollment for an esketamine client. A client whose clearance is still
pending has a dose on the calendar that the dosing gate would refuse: the journey shows it.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.clients.models import Client
from app.consents import service as consents
from app.consents.rules import ConsentKind
from app.consents.schemas import ConsentCreate
from app.screenings import service as screenings
from app.screenings.rules import Decision
from app.screenings.schemas import (
    CONTRAINDICATION_CODES,
    BloodPressure,
    Contraindications,
    ScreeningCreate,
)

CONSENT_FORM_VERSION = "KAP-2026.1"


class Clearance(StrEnum):
    """How the demo's screening ends: decided, or still waiting on the prescriber."""

    cleared = "cleared"
    pending = "pending"


async def screen_and_consent(
    db: AsyncSession,
    admin: Principal,
    client: Client,
    at: datetime,
    now: datetime,
    clearance: Clearance,
    *,
    esketamine: bool,
) -> None:
    """Record the screening and the consents signed at `at` (the admin is a prescriber)."""
    screening = ScreeningCreate(
        screened_at=at,
        contraindications=Contraindications.model_validate(
            dict.fromkeys(CONTRAINDICATION_CODES, False)
        ),
        blood_pressure=BloodPressure(systolic=124, diastolic=79),
        decision=Decision(clearance.value),
        notes=None
        if clearance is Clearance.cleared
        else "Awaiting the primary care physician's cardiac history before a decision.",
    )
    await screenings.record(db, admin, client, screening, now)
    kinds = [ConsentKind.kap_treatment]
    if esketamine:
        kinds.append(ConsentKind.esketamine_rems_enrollment)
    for kind in kinds:
        body = ConsentCreate(kind=kind, document_version=CONSENT_FORM_VERSION, signed_at=at)
        await consents.record(db, admin, client, body, now)
