"""Input a client could send on purpose: forged cursors, NUL characters, fake time zones, races."""

import asyncio
import base64
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from app.inbound.providers.events import BookingId, EventTypeKey, LooseName, LooseReason, Trigger
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic


def plain_cursor(values: list[object]) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_forged_and_foreign_cursors_are_422(clinic: Clinic) -> None:
    forged = [
        plain_cursor([{"t": "2026-03-02T12:00:00"}, {"u": "00000000-0000-4000-8000-000000000000"}]),
        plain_cursor([5, "x"]),
        "x" * 300,
    ]
    for cursor in forged:
        for url in ("/api/v1/preparation-sessions", "/api/v1/clients", "/api/v1/staff"):
            response = await clinic.get(url, params={"cursor": cursor})
            assert_problem(response, 422, "invalid_cursor")
    for _ in range(2):
        await clinic.staff("clinician")
    staff_page = await clinic.ok("GET", "/api/v1/staff", params={"limit": 1})
    response = await clinic.get("/api/v1/api-keys", params={"cursor": staff_page["next_cursor"]})
    assert_problem(response, 422, "invalid_cursor")


async def test_cursors_do_not_carry_names_in_the_clear(clinic: Clinic) -> None:
    for name in ("Okafor", "Nguyen"):
        await clinic.client(last_name=name)
    page = await clinic.ok("GET", "/api/v1/clients", params={"limit": 1})
    cursor = page["next_cursor"]
    padded = cursor + "=" * (-len(cursor) % 4)
    assert b"Okafor" not in base64.urlsafe_b64decode(padded)
    following = await clinic.ok("GET", "/api/v1/clients", params={"limit": 1, "cursor": cursor})
    assert [c["last_name"] for c in following["items"]] == ["Okafor"]


async def test_nul_characters_are_422_everywhere(clinic: Clinic) -> None:
    body = {"first_name": "Maya\u0000", "last_name": "O", "date_of_birth": "1980-01-01"}
    assert_problem(await clinic.post("/api/v1/clients", json=body), 422, "validation_error")
    response = await clinic.get("/api/v1/clients", params={"q": "a\u0000b"})
    assert_problem(response, 422, "validation_error")
    assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == []


async def test_only_real_time_zones(clinic: Clinic) -> None:
    for zone in ("localtime", "Factory", "posixrules", "Mars/Base"):
        response = await clinic.patch("/api/v1/clinic", json={"timezone": zone})
        assert_problem(response, 422, "validation_error")
    assert await clinic.ok("PATCH", "/api/v1/clinic", json={"timezone": "Europe/Oslo"})


async def test_racing_staff_creates_with_one_email(clinic: Clinic) -> None:
    body = {"email": "same@clinic.example", "name": "Same", "role": "clinician"}
    responses = await asyncio.gather(*(clinic.post("/api/v1/staff", json=body) for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5


async def test_two_admins_cannot_deactivate_each_other_at_once(clinic: Clinic) -> None:
    other_id, other = await clinic.staff("admin")
    responses = await asyncio.gather(
        clinic.patch(f"/api/v1/staff/{other_id}", json={"active": False}),
        clinic.patch(f"/api/v1/staff/{clinic.admin_id}", json={"active": False}, headers=other),
    )
    assert sorted(r.status_code for r in responses) in ([200, 409], [200, 401])
    listed = await clinic.get("/api/v1/staff", params={"role": "admin", "active": True})
    if listed.status_code == 200:
        assert len(listed.json()["items"]) == 1


async def test_an_idempotent_replay_is_audited(clinic: Clinic) -> None:
    body = {"first_name": "Re", "last_name": "Play", "date_of_birth": "1980-01-01"}
    headers = {"Idempotency-Key": "audited-replay"}
    first = await clinic.ok("POST", "/api/v1/clients", 201, json=body, headers=headers)
    await clinic.ok("POST", "/api/v1/clients", 201, json=body, headers=headers)
    events = await clinic.ok(
        "GET",
        "/api/v1/audit-events",
        params={"action": "create_client", "resource_id": first["id"]},
    )
    assert len(events["items"]) == 2
    await clinic.prep(first["id"], T0 + timedelta(days=1))


# --- control characters (issue 12 item 8) ------------------------------------------------------

HOSTILE_LINES = [
    "Evil\rEND:VCALENDAR\rBEGIN:VEVENT",  # a bare CR once injected lines into the calendar feed
    "Evil\r\nX-INJECTED:1",
    "New\nline",
    "Tab\tbed",  # a tab is a control character too: invisible in a name, a column break in TSV
    "Bell\x07",
    "Del\x7f",
    "Next\x85line",  # C1 NEL
    "Line\u2028separator",
    "Evil\r",  # trailing: refused, not silently trimmed
]
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
NOWHERE = "00000000-0000-4000-8000-000000000000"  # 422 comes before any lookup


def _short_fields(admin_id: str) -> dict[str, Callable[[str], tuple[str, str, dict[str, Any]]]]:
    """One request per short text field of the API, with `value` in that field."""
    staff = f"/api/v1/staff/{admin_id}"
    return {
        "staff.name": lambda v: (
            "POST",
            "/api/v1/staff",
            {"email": "n@clinic.example", "name": v, "role": "clinician"},
        ),
        "staff.name (patch)": lambda v: ("PATCH", staff, {"name": v}),
        "client.first_name": lambda v: (
            "POST",
            "/api/v1/clients",
            {"first_name": v, "last_name": "O", "date_of_birth": "1980-01-01"},
        ),
        "client.preferred_name": lambda v: (
            "PATCH",
            f"/api/v1/clients/{NOWHERE}",
            {"preferred_name": v},
        ),
        "api_key.name": lambda v: (
            "POST",
            "/api/v1/api-keys",
            {"staff_id": admin_id, "name": v},
        ),
        "clinic.name": lambda v: ("PATCH", "/api/v1/clinic", {"name": v}),
        "cancel.reason": lambda v: (
            "POST",
            f"/api/v1/preparation-sessions/{NOWHERE}/cancel",
            {"reason": v},
        ),
        "lot_number": lambda v: (
            "PATCH",
            f"/api/v1/ketamine-sessions/{NOWHERE}",
            {"lot_number": v},
        ),
        "correction_reason": lambda v: (
            "PATCH",
            f"/api/v1/ketamine-sessions/{NOWHERE}",
            {"location": "telehealth", "correction_reason": v},
        ),
        "external_ref.id": lambda v: (
            "PATCH",
            f"/api/v1/integration-sessions/{NOWHERE}",
            {"external_ref": {"source": "calcom", "id": v}},
        ),
        "webhook.description": lambda v: (
            "POST",
            "/api/v1/webhook-endpoints",
            {
                "url": "http://127.0.0.1:9/hook",
                "event_types": ["session.scheduled"],
                "description": v,
            },
        ),
        "integration.name": lambda v: (
            "POST",
            "/api/v1/scheduling-integrations",
            {"provider": "standard", "name": v, "signing_secret": SECRET},
        ),
        "integration.event_type_map key": lambda v: (
            "POST",
            "/api/v1/scheduling-integrations",
            {
                "provider": "standard",
                "name": "Front desk",
                "signing_secret": SECRET,
                "event_type_map": {v: "integration"},
            },
        ),
    }


FIELDS = list(_short_fields(NOWHERE))


@pytest.mark.parametrize("field", FIELDS)
async def test_short_text_fields_refuse_control_characters(clinic: Clinic, field: str) -> None:
    request = _short_fields(clinic.admin_id)[field]
    for value in HOSTILE_LINES:
        method, url, body = request(value)
        response = await clinic.request(method, url, json=body)
        problem: Any = assert_problem(response, 422, "validation_error")
        assert "control_characters" in {e["type"] for e in problem["errors"]}, (field, value)
    staff = await clinic.ok("GET", "/api/v1/staff")
    assert [s["name"] for s in staff["items"]] == ["Admin"]
    assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == []


async def test_notes_keep_line_breaks_and_tabs_but_no_other_controls(clinic: Clinic) -> None:
    client = await clinic.client()
    prep = await clinic.prep(client["id"], T0 + timedelta(days=1))
    url = f"/api/v1/preparation-sessions/{prep['id']}"
    notes = "Intentions:\r\n\t- sleep\n\t- grief"
    assert (await clinic.ok("PATCH", url, json={"notes": notes}))["notes"] == notes
    for control in ("\x01", "\x0b", "\x1b[31m", "\x7f", "\x9b"):
        response = await clinic.patch(url, json={"notes": f"a{control}b"})
        assert_problem(response, 422, "validation_error")
    assert (await clinic.ok("GET", url))["notes"] == notes


def _text_schemas(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every free-form string of every request body in the OpenAPI document, by its path
    (dictionary keys as `{key}`); strings with a format or an enum are not free-form."""
    schemas = doc["components"]["schemas"]

    def walk(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in schema.get(key, []):
                yield from walk(sub, path)
        # A nullable field's type is a list: ["string", "null"] (app/openapi.py).
        declared = schema.get("type")
        types = set(declared) if isinstance(declared, list) else {declared}
        if "object" in types:
            for name, sub in schema.get("properties", {}).items():
                yield from walk(sub, f"{path}.{name}")
            for pattern in schema.get("patternProperties", {}):
                yield f"{path}.{{key}}", {"type": "string", "pattern": pattern}
            if isinstance(schema.get("additionalProperties"), dict):
                yield from walk(schema["additionalProperties"], f"{path}.*")
        if "array" in types:
            yield from walk(schema.get("items", {}), f"{path}[]")
        if "string" in types and not {"format", "enum", "const"} & schema.keys():
            yield path, schema

    for route, item in doc["paths"].items():
        for method, operation in item.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield from walk(content["schema"], f"{method.upper()} {route} ")


FREE_TEXT = {"notes", "note"}  # long free text: line breaks and tabs allowed


def test_every_text_field_of_a_request_body_refuses_control_characters(app: FastAPI) -> None:
    """Found from the OpenAPI document, so a new field without the rule fails here."""
    found = list(_text_schemas(app.openapi()))
    assert len(found) > 40
    for path, schema in found:
        pattern = schema.get("pattern")
        assert pattern is not None, f"{path} takes any text"
        assert re.search(pattern, "a\x01b") is None, path
        if path.rsplit(".", 1)[-1] not in FREE_TEXT:
            for value in ("a\rb", "a\nb", "a\tb"):
                assert re.search(pattern, value) is None, (path, value)


def test_provider_identifiers_refuse_and_display_text_is_cleaned() -> None:
    """Bookings arrive from other systems: ids with control characters are refused, while a
    name or reason is kept with its control characters turned into spaces."""
    for refused in (BookingId, Trigger, EventTypeKey):
        with pytest.raises(ValidationError):
            TypeAdapter(refused).validate_python("bk\r\nX-INJECTED")
    assert TypeAdapter(LooseName).validate_python("Maya\r\nOkafor\t") == "Maya Okafor"
    assert TypeAdapter(LooseReason).validate_python("Sick\x07") == "Sick"
