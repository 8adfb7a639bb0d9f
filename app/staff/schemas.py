"""Staff schemas."""

import uuid

from pydantic import Field

from app.common.schemas import InputModel, OutputModel, PatchModel, ShortText, UTCTimestamp
from app.staff.emails import StaffEmail
from app.staff.models import Role


class StaffCreate(InputModel):
    """A new staff member; give them an API key with POST /api/v1/api-keys."""

    email: StaffEmail
    name: ShortText = Field(examples=["Dr. Ana Rivera"])
    role: Role = Field(examples=["clinician"])


class StaffUpdate(PatchModel):
    required_fields = frozenset({"email", "name", "role", "active"})

    email: StaffEmail | None = None
    name: ShortText | None = None
    role: Role | None = None
    active: bool | None = Field(default=None, description="Inactive staff cannot authenticate.")


class StaffRead(OutputModel):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    active: bool
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
