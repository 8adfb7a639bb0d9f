"""Creating a clinic with its first admin and API key (the CLI's bootstrap)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import issue_key
from app.clinics.models import Clinic
from app.clinics.schemas import TimeZoneName
from app.staff.emails import canonical_email
from app.staff.models import Role, Staff


@dataclass(frozen=True)
class Bootstrapped:
    clinic: Clinic
    admin: Staff
    api_key: str


async def bootstrap_clinic(
    db: AsyncSession,
    *,
    name: str,
    timezone: TimeZoneName,
    admin_email: str,
    admin_name: str,
    now: datetime,
    prescriber: bool = False,
) -> Bootstrapped:
    """A clinic with default policy, its first admin (a prescriber if `prescriber`, as a
    medical director is), and a key for that admin."""
    clinic = Clinic(name=name, timezone=timezone)
    db.add(clinic)
    await db.flush()
    email = canonical_email(admin_email)  # the form staff emails are stored in
    admin = Staff(
        clinic_id=clinic.id, email=email, name=admin_name, role=Role.admin, prescriber=prescriber
    )
    db.add(admin)
    await db.flush()
    _, plaintext = await issue_key(db, admin, "bootstrap", now)
    return Bootstrapped(clinic, admin, plaintext)
