"""Validation messages that say what to send, for the errors whose pydantic wording does not.

pydantic answers a bad date with its parser's complaint ("Input should be a valid date or
datetime, invalid character in year"); a caller needs the expected format instead. The error
`type` stays pydantic's, so clients that branch on it keep working. Never echo the input: it may
be PHI.
"""

DATE = "must be a date as YYYY-MM-DD, e.g. 2026-12-04"
TIMESTAMP = (
    "must be an RFC 3339 timestamp with an offset, e.g. 2026-12-04T15:00:00Z or "
    "2026-12-04T08:00:00-07:00"
)

BY_TYPE = {
    "date_type": DATE,
    "date_parsing": DATE,
    "date_from_datetime_parsing": DATE,
    "date_from_datetime_inexact": DATE,
    "datetime_type": TIMESTAMP,
    "datetime_parsing": TIMESTAMP,
    "datetime_from_date_parsing": TIMESTAMP,
    "datetime_object_invalid": TIMESTAMP,
    "timezone_aware": TIMESTAMP + " (this one has no offset)",
}


def message_for(error_type: str, pydantic_message: str) -> str:
    """The message a validation error is answered with."""
    return BY_TYPE.get(error_type, pydantic_message)
