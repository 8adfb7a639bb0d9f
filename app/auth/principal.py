"""Who is calling, as the services see it: the staff member, their role and their clinic."""

import uuid
from dataclasses import dataclass, field
from functools import cached_property

from app.clinics.models import Clinic
from app.clinics.snapshot import ClinicSnapshot
from app.sessions.dosing.policy import DosingPolicy
from app.staff.models import Role, Staff
from app.windows.policy import WindowPolicy


@dataclass(frozen=True)
class AuthSubject:
    """Whom a failed authentication was about, when the key itself was found."""

    clinic_id: uuid.UUID
    staff_id: uuid.UUID | None
    role: Role | None


@dataclass(frozen=True)
class Principal:
    """The authenticated staff member, their clinic and that clinic's settings for this request."""

    staff_id: uuid.UUID
    clinic_id: uuid.UUID
    role: Role
    api_key_id: uuid.UUID | None  # None when authenticated by an OIDC token
    clinic: ClinicSnapshot  # as read with the credential, for this request
    # A licensed prescriber (docs/decisions.md, "Prescribers"); False unless said, so a
    # principal built without it can do no prescriber-only act.
    prescriber: bool = field(default=False, kw_only=True)

    @classmethod
    def of(
        cls, staff: Staff, clinic: Clinic | ClinicSnapshot, api_key_id: uuid.UUID | None
    ) -> "Principal":
        """The principal of a staff member as stored now: role and prescriber flag included."""
        snapshot = ClinicSnapshot.of(clinic)
        return cls(
            staff.id, snapshot.id, staff.role, api_key_id, snapshot, prescriber=staff.prescriber
        )

    # Built once per request, however many services ask (cached_property writes the instance's
    # __dict__ directly, which a frozen dataclass allows).
    @cached_property
    def policy(self) -> WindowPolicy:
        return WindowPolicy.from_clinic(self.clinic)

    @cached_property
    def dosing(self) -> DosingPolicy:
        return DosingPolicy.from_clinic(self.clinic)
