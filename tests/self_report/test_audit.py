"""Reads and uses of a link are audited with the link as the actor, and refusals too: ids and
field names only, never an answer, a name or the token."""

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditEvent
from tests.self_report.support import (
    answers,
    audit_rows,
    create_link,
    page_path,
    requests_url,
    submit,
    token_of,
)
from tests.support.factories import Clinic

OPEN, SUBMIT = "open_self_report_form", "submit_self_report_form"


def _text(rows: list[AuditEvent]) -> str:
    return "\n".join(
        repr({c.name: getattr(row, c.name) for c in AuditEvent.__table__.columns}) for row in rows
    )


async def test_opening_and_submitting_are_audited_as_the_link(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic
) -> None:
    client = await clinic.ok(
        "POST",
        "/api/v1/clients",
        201,
        json={"first_name": "Oriel", "last_name": "Vantongeren", "date_of_birth": "1990-02-03"},
    )
    link = await create_link(clinic, client["id"], "phq9")
    assert (await http.get(page_path(link))).status_code == 200
    [opened] = await audit_rows(app, clinic, OPEN)
    assert (opened.actor_role, str(opened.actor_id), opened.outcome, opened.status_code) == (
        "client_link",
        link["id"],
        "success",
        200,
    )
    assert (opened.resource_type, opened.resource_id) == ("assessment_request", link["id"])
    assert opened.ip is not None

    assert (await submit(http, link, answers("phq9", 2, item9=1))).status_code == 200
    used = await audit_rows(app, clinic, SUBMIT)
    assert {(r.actor_role, str(r.actor_id), r.outcome) for r in used} == {
        ("client_link", link["id"], "success")
    }
    touched = {r.resource_type: r.changed_fields for r in used}
    assert set(touched) == {"assessment_request", "assessment", "safety_review"}
    assert touched["assessment_request"] == ["assessment_id", "completed_at"]
    assert "item_scores" in (touched["assessment"] or [])
    text = _text([opened, *used])
    for secret in ("Oriel", "Vantongeren", "1990-02-03", token_of(link), "[2, 2, 2"):
        assert secret not in text


async def test_refused_links_are_audited_without_detail(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic
) -> None:
    client = await clinic.client()
    link = await create_link(clinic, client["id"], "gad7")
    incomplete = answers("gad7")
    del incomplete["item4"]
    assert (await submit(http, link, incomplete)).status_code == 422
    await clinic.ok("POST", f"{requests_url(client['id'])}/{link['id']}/revoke")
    assert (await http.get(page_path(link))).status_code == 410
    assert (await submit(http, link, answers("gad7"))).status_code == 410
    rows = await audit_rows(app, clinic, OPEN) + await audit_rows(app, clinic, SUBMIT)
    refused = [(r.action, r.outcome, r.status_code) for r in rows]
    assert sorted(refused) == sorted(
        [(SUBMIT, "refused", 422), (OPEN, "refused", 410), (SUBMIT, "refused", 410)]
    )
    for row in rows:
        assert (row.actor_role, str(row.actor_id)) == ("client_link", link["id"])
        assert (row.resource_type, row.resource_id) == ("assessment_request", link["id"])
        assert row.changed_fields is None


async def test_an_unknown_link_is_audited_as_not_found_under_no_clinic(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    marker = uuid.uuid4().hex[:12]
    assert (
        await http.get(f"/r/kapsr_{marker}_guess", headers={"X-Request-ID": marker})
    ).status_code == 404
    async with app.state.sessionmaker() as db:
        rows = (
            (await db.execute(select(AuditEvent).where(AuditEvent.client_request_id == marker)))
            .scalars()
            .all()
        )
    assert [(r.action, r.outcome, r.status_code, r.clinic_id, r.actor_role) for r in rows] == [
        (OPEN, "not_found", 404, None, "client_link")
    ]
    assert marker not in (rows[0].resource_id or "")
