"""/api/v1/clients/{id}/consents: recorded, listed, withdrawn (never deleted), on each database."""

from datetime import timedelta
from typing import Any

import pytest

from tests.consents.support import SIGNED, body, consents_url, record
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic

S = timedelta(seconds=1)


async def test_a_recorded_consent_is_201_with_location_etag_and_its_terms(clinic: Clinic) -> None:
    client = await clinic.client()
    expires = T0 + timedelta(days=365)
    payload = body("esketamine_rems_enrollment") | {"expires_at": expires.isoformat()}
    response = await clinic.post(consents_url(client["id"]), json=payload)
    assert response.status_code == 201, response.text
    made = response.json()
    assert response.headers["location"] == f"{consents_url(client['id'])}/{made['id']}"
    assert response.headers["etag"] == '"1"'
    assert made == {
        "id": made["id"],
        "client_id": client["id"],
        "kind": "esketamine_rems_enrollment",
        "document_version": "KAP consent v3",
        "signed_at": SIGNED.isoformat().replace("+00:00", "Z"),
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
        "recorded_by": clinic.admin_id,
        "status": "active",
        "withdrawn_at": None,
        "withdrawn_by": None,
        "withdrawal_reason": None,
        "version": 1,
        "created_at": "2026-03-02T12:00:00Z",
        "updated_at": "2026-03-02T12:00:00Z",
    }
    fetched = await clinic.get(response.headers["location"])
    assert fetched.json() == made
    assert fetched.headers["etag"] == '"1"'


async def test_withdrawing_records_the_servers_now_and_the_reason(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    url = f"{consents_url(client['id'])}/{made['id']}"
    clinic.clock.advance(timedelta(hours=5))
    response = await clinic.post(f"{url}/withdraw", json={"reason": "Client withdrew by phone"})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    withdrawn = response.json()
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["withdrawn_at"] == "2026-03-02T17:00:00Z"
    assert withdrawn["withdrawn_by"] == clinic.admin_id
    assert withdrawn["withdrawal_reason"] == "Client withdrew by phone"
    assert withdrawn["version"] == 2
    # The signed terms stay as they were.
    assert {k: withdrawn[k] for k in ("kind", "document_version", "signed_at")} == {
        k: made[k] for k in ("kind", "document_version", "signed_at")
    }
    assert await clinic.ok("GET", url) == withdrawn
    again = await clinic.post(f"{url}/withdraw", json={"reason": "Twice"})
    assert_problem(again, 409, "invalid_transition")
    assert await clinic.ok("GET", url) == withdrawn


async def test_a_consent_expires_at_its_expiry_and_then_cannot_be_withdrawn(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    expires = T0 + timedelta(hours=1)
    made = await record(clinic, client["id"], expires_at=expires.isoformat())
    url = f"{consents_url(client['id'])}/{made['id']}"
    clinic.clock.set(expires - S)
    assert (await clinic.ok("GET", url))["status"] == "active"
    clinic.clock.set(expires)
    assert (await clinic.ok("GET", url))["status"] == "expired"
    refused = await clinic.post(f"{url}/withdraw", json={"reason": "Too late"})
    assert_problem(refused, 409, "invalid_transition")
    after = await clinic.ok("GET", url)
    assert (after["status"], after["withdrawn_at"], after["version"]) == ("expired", None, 1)


async def test_withdraw_honours_if_match(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    url = f"{consents_url(client['id'])}/{made['id']}"
    stale = await clinic.post(f"{url}/withdraw", json={"reason": "x"}, headers={"If-Match": '"7"'})
    assert_problem(stale, 412, "version_conflict")
    assert (await clinic.ok("GET", url))["status"] == "active"
    current = await clinic.post(
        f"{url}/withdraw", json={"reason": "x"}, headers={"If-Match": '"1"'}
    )
    assert current.status_code == 200, current.text


async def test_the_signature_may_be_now_but_not_a_second_later(clinic: Clinic) -> None:
    client = await clinic.client()
    url = consents_url(client["id"])
    later = await clinic.post(url, json=body(signed_at=T0 + S))
    problem = assert_problem(later, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "signed_at"]
    assert problem["errors"][0]["type"] == "in_the_future"
    assert (await clinic.ok("GET", url))["items"] == []
    now = await record(clinic, client["id"], signed_at=T0)
    assert now["status"] == "active"


async def test_the_expiry_must_come_after_the_signature(clinic: Clinic) -> None:
    client = await clinic.client()
    url = consents_url(client["id"])
    for expires in (SIGNED, SIGNED - S):
        refused = await clinic.post(url, json=body() | {"expires_at": expires.isoformat()})
        problem = assert_problem(refused, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["body", "expires_at"]
    assert (await clinic.ok("GET", url))["items"] == []
    # A second after the signature, and already past: a lapsed consent recorded for the file.
    lapsed = await record(clinic, client["id"], expires_at=(SIGNED + S).isoformat())
    assert lapsed["status"] == "expired"


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"kind": "surgery"}, ["body", "kind"]),
        ({"document_version": ""}, ["body", "document_version"]),
        ({"document_version": "   "}, ["body", "document_version"]),
        ({"document_version": "v3\nsigned"}, ["body", "document_version"]),
        ({"document_version": "v\u00853"}, ["body", "document_version"]),
        ({"document_version": "v" * 101}, ["body", "document_version"]),
        ({"document_version": None}, ["body", "document_version"]),
        ({"signed_at": "2026-03-01T09:00:00"}, ["body", "signed_at"]),
        ({"signed_at": None}, ["body", "signed_at"]),
        ({"expires_at": "2027-03-01T09:00:00"}, ["body", "expires_at"]),
        ({"status": "withdrawn"}, ["body", "status"]),
    ],
)
async def test_bad_terms_are_422_and_record_nothing(
    clinic: Clinic, change: dict[str, Any], loc: list[str]
) -> None:
    client = await clinic.client()
    url = consents_url(client["id"])
    problem = assert_problem(await clinic.post(url, json=body() | change), 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
    assert (await clinic.ok("GET", url))["items"] == []


@pytest.mark.parametrize(
    "payload",
    [{}, {"reason": ""}, {"reason": "  "}, {"reason": "a\tb"}, {"reason": "r" * 501}],
    ids=["missing", "empty", "blank", "control", "too-long"],
)
async def test_a_withdrawal_needs_a_one_line_reason(
    clinic: Clinic, payload: dict[str, Any]
) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    url = f"{consents_url(client['id'])}/{made['id']}"
    assert_problem(await clinic.post(f"{url}/withdraw", json=payload), 422, "validation_error")
    assert await clinic.ok("GET", url) == made


async def test_list_filters_by_kind_status_and_instant_and_pages_in_signing_order(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    url = consents_url(client["id"])
    days = [T0 - timedelta(days=d) for d in (50, 40, 30, 20, 10)]
    kap = await record(clinic, client["id"], signed_at=days[0])
    rems = await record(clinic, client["id"], "esketamine_rems_enrollment", days[1])
    lapsed = await record(
        clinic, client["id"], "telehealth", days[2], expires_at=days[3].isoformat()
    )
    sharing = await record(clinic, client["id"], "data_sharing", days[3])
    renewed = await record(clinic, client["id"], "telehealth", days[4])
    await clinic.ok("POST", f"{url}/{rems['id']}/withdraw", json={"reason": "Stopped"})
    await record(clinic, (await clinic.client())["id"])  # another client's: never listed

    async def ids(**params: Any) -> list[str]:
        return [c["id"] for c in (await clinic.ok("GET", url, params=params))["items"]]

    everyone = [kap["id"], rems["id"], lapsed["id"], sharing["id"], renewed["id"]]
    assert await ids() == everyone
    assert await ids(kind="telehealth") == [lapsed["id"], renewed["id"]]
    assert await ids(status="active") == [kap["id"], sharing["id"], renewed["id"]]
    assert await ids(status="withdrawn") == [rems["id"]]
    assert await ids(status="expired") == [lapsed["id"]]
    assert await ids(kind="telehealth", status="active") == [renewed["id"]]
    # In force at an instant: the withdrawal (now) does not reach back before it.
    at = (days[3] - S).isoformat()
    assert await ids(in_force_at=at) == [kap["id"], rems["id"], lapsed["id"]]
    assert await ids(in_force_at=days[3].isoformat()) == [kap["id"], rems["id"], sharing["id"]]
    assert await ids(in_force_at=T0.isoformat()) == [kap["id"], sharing["id"], renewed["id"]]
    for bad in ({"kind": "surgery"}, {"status": "revoked"}, {"in_force_at": "2026-03-01"}):
        assert_problem(await clinic.get(url, params=bad), 422, "validation_error")
    walked: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await clinic.ok("GET", url, params=params)
        walked += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == everyone


async def test_an_idempotent_create_records_one_consent(clinic: Clinic) -> None:
    client = await clinic.client()
    url = consents_url(client["id"])
    key = {"Idempotency-Key": "consent-1"}
    first = await clinic.post(url, json=body(), headers=key)
    again = await clinic.post(url, json=body(), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len((await clinic.ok("GET", url))["items"]) == 1


async def test_nothing_deletes_a_consent(clinic: Clinic) -> None:
    client = await clinic.client()
    made = await record(clinic, client["id"])
    url = f"{consents_url(client['id'])}/{made['id']}"
    assert (await clinic.delete(url)).status_code == 405
    assert await clinic.ok("GET", url) == made


async def test_an_archived_clients_consent_can_still_be_filed_and_withdrawn(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    await clinic.ok("POST", f"/api/v1/clients/{client['id']}/archive")
    made = await record(clinic, client["id"])
    url = f"{consents_url(client['id'])}/{made['id']}/withdraw"
    assert (await clinic.ok("POST", url, json={"reason": "Moved away"}))["status"] == "withdrawn"
