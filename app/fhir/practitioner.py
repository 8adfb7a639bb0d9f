"""Staff member -> FHIR Practitioner: the name and the role in the clinic, never contact data
(the email is a login, not a way to reach the clinic)."""

from app.fhir.common import OURS, Resource, coding
from app.staff.models import Staff

STAFF_ROLE_SYSTEM = f"{OURS}/CodeSystem/staff-role"


def to_practitioner(member: Staff) -> Resource:
    """The Practitioner for a staff member; the role as a qualification (R4 Practitioner has no
    role field: PractitionerRole would need an Organization this product does not model)."""
    role = member.role.value
    return {
        "resourceType": "Practitioner",
        "id": str(member.id),
        "active": member.active,
        "name": [{"text": member.name}],
        "qualification": [
            {"code": {"coding": [coding(STAFF_ROLE_SYSTEM, role, role)], "text": role}}
        ],
    }
