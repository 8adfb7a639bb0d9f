"""API key schemas: the plaintext key appears once, in the create response."""

import uuid

from pydantic import Field

from app.common.schemas import Id, InputModel, InputTimestamp, OutputModel, ShortText, UTCTimestamp


class ApiKeyCreate(InputModel):
    staff_id: uuid.UUID = Field(description="The staff member the key acts as.")
    name: ShortText = Field(examples=["Front-desk scheduler app"])
    expires_at: InputTimestamp | None = Field(
        default=None, description="When the key stops working; omit for no expiry."
    )


class ApiKeyRead(OutputModel):
    id: Id
    staff_id: Id
    name: str
    prefix: str = Field(description="The visible part of the key, to tell keys apart.")
    created_at: UTCTimestamp
    expires_at: UTCTimestamp | None
    revoked_at: UTCTimestamp | None
    last_used_at: UTCTimestamp | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself. Shown once; store it now.")
