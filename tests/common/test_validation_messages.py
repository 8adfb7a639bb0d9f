"""A bad date or timestamp is answered with the format to send, not the parser's complaint, in
bodies and query strings alike; the error's `type` stays pydantic's."""

import pytest

from app.common.validation_messages import DATE, TIMESTAMP
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, iso


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        ("17/04/1988", "date_from_datetime_parsing"),  # "invalid character in year"
        ("1988-13-45", "date_from_datetime_parsing"),
        ("1988-04-17T10:30:00Z", "date_from_datetime_inexact"),
        ("", "date_from_datetime_parsing"),
    ],
)
async def test_a_bad_date_says_yyyy_mm_dd(clinic: Clinic, given: str, kind: str) -> None:
    body = {"first_name": "Maya", "last_name": "Okafor", "date_of_birth": given}
    response = await clinic.post("/api/v1/clients", json=body)
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"] == [{"loc": ["body", "date_of_birth"], "msg": DATE, "type": kind}]
    assert problem["detail"] == f"body.date_of_birth: {DATE}"
    assert "YYYY-MM-DD" in problem["detail"]
    assert "invalid character" not in response.text


@pytest.mark.parametrize(
    ("given", "kind", "msg"),
    [
        ("tomorrow", "datetime_from_date_parsing", TIMESTAMP),
        ("2026-12-04T25:00:00Z", "datetime_from_date_parsing", TIMESTAMP),
        ("2026-12-04T15:00:00", "timezone_aware", f"{TIMESTAMP} (this one has no offset)"),
    ],
)
async def test_a_bad_timestamp_says_rfc_3339_with_an_offset(
    clinic: Clinic, given: str, kind: str, msg: str
) -> None:
    client = await clinic.client()
    body = {"client_id": client["id"], "starts_at": given, "ends_at": iso(T0)}
    response = await clinic.post("/api/v1/integration-sessions", json=body)
    problem = assert_problem(response, 422, "validation_error")
    assert {"loc": ["body", "starts_at"], "msg": msg, "type": kind} in problem["errors"]
    assert "RFC 3339 timestamp with an offset, e.g. 2026-12-04T15:00:00Z" in msg

    listed = await clinic.get("/api/v1/integration-sessions", params={"starts_after": given})
    problem = assert_problem(listed, 422, "validation_error")
    assert problem["detail"] == f"query.starts_after: {msg}"


async def test_other_validation_messages_are_left_as_they_are(clinic: Clinic) -> None:
    response = await clinic.post("/api/v1/clients", json={"first_name": "Maya"})
    problem = assert_problem(response, 422, "validation_error")
    assert {"loc": ["body", "last_name"], "msg": "Field required", "type": "missing"} in problem[
        "errors"
    ]
