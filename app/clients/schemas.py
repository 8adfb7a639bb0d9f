"""Client schemas. `stage` is derived from sessions and read-only."""

import uuid
from datetime import date
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints, field_validator

from app.clients.models import ClientStage, PresentingConcern
from app.common.schemas import (
    ONE_LINE,
    Id,
    InputModel,
    OutputModel,
    PatchModel,
    ShortText,
    UTCTimestamp,
)
from app.screenings.schemas import MedicalClearanceRead

CLINICAL = "Clinical: absent from responses to the scheduler role."
CLIENT_CLINICAL_FIELDS = frozenset({"date_of_birth", "presenting_concerns"})

Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ().\-]{5,29}$"),
    Field(examples=["+1 503 555 0142"]),
]
Concerns = Annotated[
    list[PresentingConcern], Field(max_length=5, examples=[["depression", "trauma"]])
]


def _unique(concerns: list[PresentingConcern] | None) -> list[PresentingConcern] | None:
    if concerns is not None and len(set(concerns)) != len(concerns):
        raise ValueError("presenting_concerns must not repeat")
    return concerns


class ClientCreate(InputModel):
    """A new client; they start at the intake stage."""

    clinical_fields = CLIENT_CLINICAL_FIELDS

    first_name: ShortText = Field(examples=["Maya"])
    last_name: ShortText = Field(examples=["Okafor"])
    preferred_name: ShortText | None = None
    date_of_birth: date = Field(examples=["1988-04-17"])
    email: EmailStr | None = Field(default=None, examples=["maya.okafor@example.com"])
    phone: Phone | None = None
    primary_clinician_id: uuid.UUID | None = None
    presenting_concerns: Concerns = Field(default_factory=list)

    _check_concerns = field_validator("presenting_concerns")(_unique)


class ClientUpdate(PatchModel):
    """Edit a client; omitted fields keep their value."""

    clinical_fields = CLIENT_CLINICAL_FIELDS

    required_fields = frozenset({"first_name", "last_name", "date_of_birth", "presenting_concerns"})

    first_name: ShortText | None = None
    last_name: ShortText | None = None
    preferred_name: ShortText | None = None
    date_of_birth: date | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    primary_clinician_id: uuid.UUID | None = None
    presenting_concerns: Concerns | None = None

    _check_concerns = field_validator("presenting_concerns")(_unique)


class ClientRead(OutputModel):
    """A client. Schedulers see names and contact details only."""

    clinical_fields = CLIENT_CLINICAL_FIELDS | {"medical_clearance"}

    id: Id
    first_name: str
    last_name: str
    preferred_name: str | None
    date_of_birth: date | None = Field(default=None, description=CLINICAL)
    email: str | None
    phone: str | None
    primary_clinician_id: Id | None
    presenting_concerns: list[PresentingConcern] = Field(default_factory=list, description=CLINICAL)
    stage: ClientStage = Field(description="Derived from the client's sessions; never written.")
    medical_clearance: MedicalClearanceRead | None = Field(
        default=None,
        description="The client's medical clearance as of now, from their screenings "
        "(`/clients/{id}/screenings`). " + CLINICAL,
    )
    archived: bool
    version: int
    created_at: UTCTimestamp
    updated_at: UTCTimestamp


Query = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), ONE_LINE
]
