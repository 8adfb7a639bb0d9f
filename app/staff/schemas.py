"""Staff schemas."""

from pydantic import Field, StrictBool

from app.common.schemas import Id, InputModel, OutputModel, PatchModel, ShortText, UTCTimestamp
from app.staff.emails import StaffEmail
from app.staff.models import Role

PRESCRIBER = (
    "A licensed prescriber (MD, DO, NP, PA). Only an admin or a clinician can be one (422 "
    "otherwise). Prescriber-only acts: a screening decision of `cleared` or `not_cleared`, "
    "writing `dose_mg` or `medication` on a ketamine session (the order) and a dosing-gate "
    "override; anyone else gets 403 `prescriber_required`. "
    "Evidence: [prescriber-acts](/docs/clinical-evidence#prescriber-acts)"
)


class StaffCreate(InputModel):
    """A new staff member; give them an API key with POST /api/v1/api-keys."""

    email: StaffEmail
    name: ShortText = Field(examples=["Dr. Ana Rivera"])
    role: Role = Field(examples=["clinician"])
    prescriber: StrictBool = Field(default=False, description=PRESCRIBER)


class StaffUpdate(PatchModel):
    required_fields = frozenset({"email", "name", "role", "active", "prescriber"})

    email: StaffEmail | None = None
    name: ShortText | None = None
    role: Role | None = None
    active: bool | None = Field(default=None, description="Inactive staff cannot authenticate.")
    prescriber: StrictBool | None = Field(
        default=None,
        description=PRESCRIBER + " A prescriber who becomes a scheduler must drop the flag in "
        "the same request.",
    )


class StaffRead(OutputModel):
    id: Id
    email: str
    name: str
    role: Role
    prescriber: bool = Field(description=PRESCRIBER)
    active: bool
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
