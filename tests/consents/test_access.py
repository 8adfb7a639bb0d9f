"""Who may see and write consents: clinical roles of the client's clinic only; every read and
write audited without PHI; and no DELETE, in the API or in the database."""

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEvent
from app.consents.models import Consent
from app.db import begin_write
from tests.consents.support import body, consents_url, record
from tests.support.apps import assert_problem
from tests.support.audit_items import audit_items
from tests.support.factories import Clinic, bootstrap


def _calls(client_id: str, consent_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    url = consents_url(client_id)
    return [
        ("POST", url, body()),
        ("GET", url, None),
        ("GET", f"{url}/{consent_id}", None),
        ("POST", f"{url}/{consent_id}/withdraw", {"reason": "Scheduler tried"}),
    ]


async def test_the_scheduler_gets_403_on_every_route_and_learns_nothing(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    _, scheduler = await clinic.staff("scheduler")
    for method, url, payload in _calls(client["id"], made["id"]):
        response = await clinic.request(method, url, json=payload, headers=scheduler)
        assert_problem(response, 403, "forbidden")
        assert "KAP consent" not in response.text
    listed = await clinic.ok("GET", consents_url(client["id"]))
    assert listed["items"] == [made]


async def test_a_clinician_records_and_withdraws(clinic: Clinic) -> None:
    clinician_id, clinician = await clinic.staff("clinician")
    client = await clinic.client()
    made = await record(clinic, client["id"], headers=clinician)
    assert made["recorded_by"] == clinician_id
    url = f"{consents_url(client['id'])}/{made['id']}/withdraw"
    withdrawn = await clinic.ok("POST", url, json={"reason": "Asked"}, headers=clinician)
    assert withdrawn["withdrawn_by"] == clinician_id


async def test_another_clinics_client_and_consents_do_not_exist(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    other = await bootstrap(app, http, clinic.clock)
    theirs = await other.client()
    their_consent = await record(other, theirs["id"])
    for method, url, payload in _calls(theirs["id"], their_consent["id"]):
        response = await clinic.request(method, url, json=payload)
        assert_problem(response, 404, "not_found")
    # Our own client's path with their consent's id: still nobody's here.
    ours = await clinic.client()
    for method, url, payload in _calls(ours["id"], their_consent["id"])[2:]:
        assert_problem(await clinic.request(method, url, json=payload), 404, "not_found")
    after = await other.ok("GET", f"{consents_url(theirs['id'])}/{their_consent['id']}")
    assert after == their_consent
    assert (await clinic.ok("GET", consents_url(ours["id"])))["items"] == []


async def test_a_consent_is_found_only_under_its_own_client(clinic: Clinic) -> None:
    client, sibling = await clinic.client(), await clinic.client(last_name="Sibling")
    made = await record(clinic, client["id"])
    wrong = f"{consents_url(sibling['id'])}/{made['id']}"
    assert_problem(await clinic.get(wrong), 404, "not_found")
    assert_problem(await clinic.post(f"{wrong}/withdraw", json={"reason": "x"}), 404, "not_found")


async def _audit_rows(app: FastAPI, clinic: Clinic) -> list[Any]:
    async with app.state.sessionmaker() as db:
        return await audit_items(db, AuditEvent.clinic_id == uuid.UUID(clinic.id))


async def test_reads_and_writes_are_audited_without_phi(clinic: Clinic, app: FastAPI) -> None:
    client = await clinic.client()
    secret_version, secret_reason = "Zephyrine form 7", "Quillon moved abroad"
    made = await record(clinic, client["id"], document_version=secret_version)
    url = f"{consents_url(client['id'])}/{made['id']}"
    await clinic.ok("GET", url)
    await clinic.ok("GET", consents_url(client["id"]))
    await clinic.ok("POST", f"{url}/withdraw", json={"reason": secret_reason})
    refused = await clinic.post(f"{url}/withdraw", json={"reason": secret_reason})
    assert refused.status_code == 409
    _, scheduler = await clinic.staff("scheduler")
    assert (await clinic.get(url, headers=scheduler)).status_code == 403

    rows = await _audit_rows(app, clinic)
    seen = {
        (r.action, r.resource_type, r.resource_id, r.outcome, r.status_code): r.changed_fields
        for r in rows
        if r.action.endswith("_consent") or r.action.endswith("_consents")
    }
    consent_id = made["id"]
    assert seen == {
        ("create_consent", "consent", consent_id, "success", 201): [
            "document_version",
            "kind",
            "signed_at",
        ],
        ("get_consent", "consent", consent_id, "success", 200): None,
        ("list_consents", "client", client["id"], "success", 200): None,
        ("list_consents", "consent", consent_id, "success", 200): None,
        ("withdraw_consent", "consent", consent_id, "success", 200): [
            "withdrawal_reason",
            "withdrawn_at",
            "withdrawn_by",
        ],
        # A refused write on a consent is recorded too; the scheduler's denial is filed under
        # the client the path named.
        ("withdraw_consent", "consent", client["id"], "refused", 409): None,
        ("get_consent", "consent", client["id"], "denied", 403): None,
    }
    columns = [c.key for c in AuditEvent.__table__.columns]
    dumped = json.dumps([{c: getattr(r, c) for c in columns} for r in rows], default=str)
    for value in ("Zephyrine", "Quillon", "abroad"):
        assert value not in dumped


async def test_the_database_refuses_to_delete_a_consent(clinic: Clinic, app: FastAPI) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    async with app.state.sessionmaker() as db:
        await begin_write(db)
        with pytest.raises(DBAPIError, match="never deleted"):
            await db.execute(delete(Consent).where(Consent.id == uuid.UUID(made["id"])))
        await db.rollback()
    assert await clinic.ok("GET", f"{consents_url(client['id'])}/{made['id']}") == made
