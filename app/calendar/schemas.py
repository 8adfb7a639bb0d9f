"""Calendar token schemas: the token appears once, in the issue response."""

from pydantic import Field

from app.common.schemas import Id, OutputModel, UTCTimestamp


class CalendarTokenIssued(OutputModel):
    staff_id: Id
    feed_url: str = Field(
        description="The feed's absolute address, token included, on `KAP_PUBLIC_URL` when it "
        "is set, else on the address this request reached: subscribe to it from a calendar "
        "app. Anyone holding it can read the feed.",
        examples=[
            "https://kap.example.org/api/v1/staff/2f0c.../calendar.ics?token=kapcal_3f9a1c2b7d4e_..."
        ],
    )
    token: str = Field(description="The feed token itself. Shown once; it replaces any earlier.")
    created_at: UTCTimestamp
