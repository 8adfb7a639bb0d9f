"""Hostile names cannot inject lines into a feed or break it: refused at input, and rows from
before that rule are written out escaped, as one line each."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.clients.models import Client
from app.common.schemas import ONE_LINE
from app.staff.models import Staff
from tests.calendar.support import events, issue, read_feed
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic

HOSTILE_NAMES = [
    "Eve\rEND:VCALENDAR\rBEGIN:VEVENT\rUID:fake@x\rSUMMARY:Injected\rEND:VEVENT",
    "Eve\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:fake@x\r\nEND:VEVENT",
    "Eve\nX-INJECTED:1\nBEGIN:VALARM",
    "Eve\x1b[2J\x07\x7f\x85\u2028X-INJECTED:1",
    "Semi;colon, comma\\ backslash: colon",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_a_staff_name_with_control_characters_is_refused(clinic: Clinic, name: str) -> None:
    body = {"email": "eve@clinic.example", "name": name, "role": "clinician"}
    if name.isprintable():
        assert (await clinic.post("/api/v1/staff", json=body)).status_code == 201
        return
    assert_problem(await clinic.post("/api/v1/staff", json=body), 422, "validation_error")
    patch = await clinic.patch(f"/api/v1/staff/{clinic.admin_id}", json={"name": name})
    assert_problem(patch, 422, "validation_error")


async def _store(app: FastAPI, model: Any, row_id: str, **values: str) -> None:
    """Write values straight into the database, as rows from before the input rule hold them."""
    async with app.state.sessionmaker() as db, db.begin():
        await db.execute(update(model).where(model.id == uuid.UUID(row_id)).values(**values))


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_a_feed_from_hostile_stored_names_holds_exactly_its_own_events(
    clinic: Clinic, http: httpx.AsyncClient, app: FastAPI, name: str
) -> None:
    staff_id, _ = await clinic.staff("clinician")
    client = await clinic.prepared_client()
    mine: dict[str, Any] = {"clinician_id": staff_id}
    prep = await clinic.prep(client["id"], T0 + timedelta(days=1), **mine)
    dose = await clinic.dose(client["id"], T0 + timedelta(days=2), **mine)
    await _store(app, Staff, staff_id, name=name)
    await _store(app, Client, client["id"], first_name="\rMaya", last_name="\x01Okafor\n")

    raw, calendar = await read_feed(http, (await issue(clinic, staff_id))["feed_url"])

    lines = raw.split(b"\r\n")
    assert lines[-1] == b""  # the document ends with CRLF, and no line holds a CR or LF
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    structure = [line for line in lines if line.startswith((b"BEGIN:", b"END:"))]
    assert structure == [
        b"BEGIN:VCALENDAR",
        *[b"BEGIN:VEVENT", b"END:VEVENT"] * 3,
        b"END:VCALENDAR",
    ]
    assert [c.name for c in calendar.walk()] == ["VCALENDAR", "VEVENT", "VEVENT", "VEVENT"]
    assert set(events(calendar)) == {
        f"{prep['id']}@kap-journey",
        f"{dose['id']}@kap-journey",
        f"{dose['id']}-window@kap-journey",
    }
    unfolded = raw.replace(b"\r\n ", b"").split(b"\r\n")
    assert not [line for line in unfolded if line.startswith((b"X-INJECTED", b"UID:fake"))]
    # The name is text inside its own property, never a line of its own.
    assert [line for line in unfolded if line.startswith(b"NAME:")] == [
        b"NAME:KAP Journey \xe2\x80\x94 " + _escaped(name)
    ]
    assert str(events(calendar)[f"{prep['id']}@kap-journey"]["summary"]) == (
        "Preparation session · M.O."
    )


def _escaped(name: str) -> bytes:
    """The name as the feed must write it: control runs as one space, RFC 5545 escapes."""
    text = ONE_LINE.scrub(name).strip()
    for char, escape in (("\\", "\\\\"), (";", "\\;"), (",", "\\,")):
        text = text.replace(char, escape)
    return text.encode()
