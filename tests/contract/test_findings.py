"""What the Schemathesis run found, pinned as plain examples so they stay fixed."""

from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.apps import assert_problem
from tests.support.factories import Clinic


async def test_a_body_that_is_not_utf8_is_a_422_like_any_malformed_json(clinic: Clinic) -> None:
    for body in (b"\xff\xfe{}", b"{not json"):
        response = await clinic.post(
            "/api/v1/clients", content=body, headers={"content-type": "application/json"}
        )
        problem = assert_problem(response, 422, "validation_error")
        errors: list[dict[str, Any]] = problem["errors"]
        assert [error["type"] for error in errors] == ["json_invalid"]
    assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == []


async def test_the_scheduler_refusal_of_a_safety_filter_is_documented(
    clinic: Clinic, http: httpx.AsyncClient, app: FastAPI
) -> None:
    _, scheduler = await clinic.staff("scheduler")
    flag = {"safety_flag": "pre_dose_bp_elevated"}
    response = await http.get("/api/v1/ketamine-sessions", params=flag, headers=scheduler)
    assert_problem(response, 403, "forbidden")
    responses = app.openapi()["paths"]["/api/v1/ketamine-sessions"]["get"]["responses"]
    assert "403" in responses


async def test_response_schemas_describe_their_fields(app: FastAPI) -> None:
    """A wrap serializer returning Any once turned every read model into `{}`, checking nothing."""
    schemas = app.openapi()["components"]["schemas"]
    assert [name for name, schema in schemas.items() if not schema] == []
    client = schemas["ClientRead"]
    assert {"id", "first_name", "stage", "version"} <= set(client["required"])
    assert "date_of_birth" not in client["required"]  # clinical: absent for the scheduler
    assert client["properties"]["created_at"]["format"] == "date-time"
