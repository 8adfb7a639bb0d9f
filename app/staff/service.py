"""Staff rules: unique emails per clinic, and a clinic never loses its last admin."""

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.trail import note_change
from app.errors import Conflict, NotFound
from app.staff import repository
from app.staff.models import Role, Staff
from app.staff.schemas import StaffCreate, StaffUpdate


class EmailTaken(Conflict):
    code, title = "email_taken", "A staff member with that email already exists"


class LastAdmin(Conflict):
    code, title = "last_admin", "The clinic must keep at least one active admin"


class StaffNotFound(NotFound):
    title = "Staff member not found"


async def get_staff(db: AsyncSession, clinic_id: uuid.UUID, staff_id: uuid.UUID) -> Staff:
    staff = await repository.get(db, clinic_id, staff_id)
    if staff is None:
        raise StaffNotFound(f"No staff member {staff_id} in this clinic.")
    return staff


async def create_staff(db: AsyncSession, clinic_id: uuid.UUID, body: StaffCreate) -> Staff:
    email = body.email  # already in the one normal form (app/staff/emails.py)
    if await repository.email_taken(db, clinic_id, email):
        raise EmailTaken(f"{email} is already a staff member of this clinic.")
    staff = Staff(clinic_id=clinic_id, email=email, name=body.name, role=body.role)
    db.add(staff)
    try:
        await db.flush()
    except IntegrityError as exc:  # a concurrent request took the email first
        raise EmailTaken(f"{email} is already a staff member of this clinic.") from exc
    note_change("staff", staff.id, ["email", "name", "role"])
    return staff


async def update_staff(db: AsyncSession, staff: Staff, body: StaffUpdate) -> Staff:
    changes = body.changes()
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
