"""Staff rules: unique emails per clinic, a clinic never loses its last admin, and only an
admin or a clinician is a prescriber."""

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.errors import Conflict, NotFound, ValidationFailed
from app.staff import repository
from app.staff.models import PRESCRIBING_ROLES, Role, Staff
from app.staff.schemas import StaffCreate, StaffUpdate


class EmailTaken(Conflict):
    code, title = "email_taken", "A staff member with that email already exists"


class LastAdmin(Conflict):
    code, title = "last_admin", "The clinic must keep at least one active admin"


class StaffNotFound(NotFound):
    title = "Staff member not found"


def _check_prescriber(role: Role, prescriber: bool) -> None:
    """A scheduler is never a prescriber: the flag grants clinical acts its role cannot do."""
    if prescriber and role not in PRESCRIBING_ROLES:
        raise ValidationFailed(
            f"A {role.value} cannot be a prescriber: only an admin or a clinician can (to make "
            "a prescriber a scheduler, send prescriber: false in the same request).",
            loc=("body", "prescriber"),
            kind="prescriber_needs_clinical_role",
        )


async def get_staff(db: AsyncSession, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Staff:
    staff = await repository.get(db, clinic_id, staff_id)
    if staff is None:
        raise StaffNotFound(f"No staff member {staff_id} in this clinic.")
    return staff


async def create_staff(db: AsyncSession, clinic_id: uuid.UUID, body: StaffCreate) -> Staff:
    _check_prescriber(body.role, body.prescriber)
    email = body.email  # already in the one normal form (app/staff/emails.py)
    if await repository.email_taken(db, clinic_id, email):
        raise EmailTaken(f"{email} is already a staff member of this clinic.")
    staff = Staff(
        clinic_id=clinic_id,
        email=email,
        name=body.name,
        role=body.role,
        prescriber=body.prescriber,
    )
    db.add(staff)
    try:
        await db.flush()
    except IntegrityError as exc:  # a concurrent request took the email first
        raise EmailTaken(f"{email} is already a staff member of this clinic.") from exc
    note_change("staff", staff.id, ["email", "name", "prescriber", "role"])
    return staff


async def update_staff(db: AsyncSession, staff: Staff, body: StaffUpdate) -> Staff:
    changes = body.changes()
    _check_prescriber(changes.get("role", staff.role), changes.get("prescriber", staff.prescriber))
    if "email" in changes and await repository.email_taken(
        db, staff.clinic_id, changes["email"], excluding=staff.id
    ):
        raise EmailTaken(f"{changes['email']} is already a staff member of this clinic.")
    loses_admin = staff.role is Role.admin and staff.active
    stays_admin = changes.get("role", staff.role) is Role.admin and changes.get("active", True)
    if (
        loses_admin
        and not stays_admin
        and await repository.count_active_admins(db, staff.clinic_id) <= 1
    ):
        raise LastAdmin("Make another staff member an admin first.")
    for name, value in changes.items():
        setattr(staff, name, value)
    await db.flush()
    note_change("staff", staff.id, sorted(changes))
    return staff
