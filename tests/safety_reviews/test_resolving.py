"""Resolving a safety review: what was done, once, by a clinical role; it clears its alert."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.safety_reviews.support import REVIEWS, record_phq9, reviews_of, self_harm_alerts
from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, bootstrap


async def _open_review(clinic: Clinic, client_id: str | None = None) -> dict[str, Any]:
    client_id = client_id or (await clinic.client())["id"]
    assessment = await record_phq9(clinic, client_id, 1, T0)
    [review] = [
        r for r in await reviews_of(clinic, client_id) if r["assessment_id"] == assessment["id"]
    ]
    return review


async def test_resolving_records_what_was_done_and_clears_only_its_alert(clinic: Clinic) -> None:
    client = await clinic.client()
    first = await _open_review(clinic, client["id"])
    second = await _open_review(clinic, client["id"])
    clinician_id, clinician = await clinic.staff("clinician")
    clinic.clock.advance(timedelta(hours=2))
    body = {"action": "safety_plan_reviewed", "note": "  Plan gone through.\nCrisis line given. "}
    response = await clinic.post(f"{REVIEWS}/{first['id']}/resolve", json=body, headers=clinician)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    resolved = response.json()
    assert resolved == {
        **first,
        "status": "resolved",
        "resolved_at": clinic.clock.now.isoformat().replace("+00:00", "Z"),
        "resolved_by": clinician_id,
        "action": "safety_plan_reviewed",
        "note": "Plan gone through.\nCrisis line given.",
        "version": 2,
    }
    assert await clinic.ok("GET", f"{REVIEWS}/{first['id']}") == resolved
    [alert] = await self_harm_alerts(clinic, client["id"])
    assert alert["safety_review_id"] == second["id"]
    await clinic.ok(
        "POST", f"{REVIEWS}/{second['id']}/resolve", json={"action": "other", "note": "Seen by GP"}
    )
    assert await self_harm_alerts(clinic, client["id"]) == []


async def test_a_resolved_review_cannot_be_resolved_again(clinic: Clinic) -> None:
    review = await _open_review(clinic)
    url = f"{REVIEWS}/{review['id']}/resolve"
    done = await clinic.ok("POST", url, json={"action": "crisis_resources_given"})
    again = await clinic.post(url, json={"action": "emergency_services_contacted"})
    assert_problem(again, 409, "invalid_transition")
    assert await clinic.ok("GET", f"{REVIEWS}/{review['id']}") == done


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"action": "other"}, ["body", "note"]),
        ({"action": "other", "note": " \n\t "}, ["body", "note"]),
        ({"action": "called_them"}, ["body", "action"]),
        ({}, ["body", "action"]),
        ({"action": "other", "note": "x" * 4001}, ["body", "note"]),
        ({"action": "other", "note": "a\x1bb"}, ["body", "note"]),
        ({"action": "safety_plan_reviewed", "resolved_by": "x"}, ["body", "resolved_by"]),
    ],
    ids=["other-no-note", "other-blank-note", "unknown", "missing", "long", "control", "extra"],
)
async def test_a_bad_resolution_is_422_and_leaves_the_review_open(
    clinic: Clinic, body: dict[str, Any], loc: list[str]
) -> None:
    review = await _open_review(clinic)
    response = await clinic.post(f"{REVIEWS}/{review['id']}/resolve", json=body)
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
    assert await clinic.ok("GET", f"{REVIEWS}/{review['id']}") == review


async def test_if_match_guards_the_resolution(clinic: Clinic) -> None:
    review = await _open_review(clinic)
    url = f"{REVIEWS}/{review['id']}/resolve"
    body = {"action": "referred_to_crisis_service"}
    stale = await clinic.post(url, json=body, headers={"If-Match": '"7"'})
    assert_problem(stale, 412, "version_conflict")
    assert (await clinic.ok("GET", f"{REVIEWS}/{review['id']}"))["status"] == "open"
    fresh = await clinic.ok("POST", url, json=body, headers={"If-Match": '"1"'})
    assert fresh["status"] == "resolved"


async def test_the_list_puts_open_reviews_first_oldest_first_and_pages(clinic: Clinic) -> None:
    reviews = []
    for _ in range(4):
        reviews.append(await _open_review(clinic))
        clinic.clock.advance(timedelta(minutes=5))
    await clinic.ok(
        "POST", f"{REVIEWS}/{reviews[0]['id']}/resolve", json={"action": "other", "note": "n"}
    )
    expected = [r["id"] for r in reviews[1:]] + [reviews[0]["id"]]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await clinic.ok("GET", REVIEWS, params=params)
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    open_ = await clinic.ok("GET", REVIEWS, params={"status": "open"})
    assert [r["id"] for r in open_["items"]] == expected[:3]
    resolved = await clinic.ok("GET", REVIEWS, params={"status": "resolved"})
    assert [r["id"] for r in resolved["items"]] == [reviews[0]["id"]]
    one_client = await clinic.ok("GET", REVIEWS, params={"client_id": reviews[2]["client_id"]})
    assert [r["id"] for r in one_client["items"]] == [reviews[2]["id"]]
    assert_problem(await clinic.get(REVIEWS, params={"status": "closed"}), 422, "validation_error")


async def test_the_scheduler_is_refused_every_route(clinic: Clinic) -> None:
    review = await _open_review(clinic)
    _, scheduler = await clinic.staff("scheduler")
    calls = [
        ("GET", REVIEWS, None),
        ("GET", f"{REVIEWS}/{review['id']}", None),
        ("POST", f"{REVIEWS}/{review['id']}/resolve", {"action": "safety_plan_reviewed"}),
    ]
    for method, url, body in calls:
        response = await clinic.request(method, url, json=body, headers=scheduler)
        assert_problem(response, 403, "forbidden")
    assert await clinic.ok("GET", f"{REVIEWS}/{review['id']}") == review


async def test_another_clinics_reviews_do_not_exist(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    other = await bootstrap(app, http, clinic.clock)
    theirs = await _open_review(other)
    assert_problem(await clinic.get(f"{REVIEWS}/{theirs['id']}"), 404, "not_found")
    resolve = await clinic.post(
        f"{REVIEWS}/{theirs['id']}/resolve", json={"action": "safety_plan_reviewed"}
    )
    assert_problem(resolve, 404, "not_found")
    listed = await clinic.ok("GET", REVIEWS, params={"client_id": theirs["client_id"]})
    assert listed["items"] == []
    assert (await clinic.ok("GET", REVIEWS))["items"] == []
    assert (await other.ok("GET", f"{REVIEWS}/{theirs['id']}"))["status"] == "open"


async def test_the_audit_trail_names_the_review_never_the_note(clinic: Clinic) -> None:
    review = await _open_review(clinic)
    note = "Discussed means restriction with partner"
    url = f"{REVIEWS}/{review['id']}/resolve"
    await clinic.ok("POST", url, json={"action": "other", "note": note})
    refused = await clinic.post(url, json={"action": "other", "note": note})
    assert refused.status_code == 409
    trail = await clinic.ok(
        "GET", "/api/v1/audit-events", params={"resource_type": "safety_review", "limit": 200}
    )
    rows = [r for r in trail["items"] if r["resource_id"] == review["id"]]
    by_action = {(r["action"], r["outcome"]) for r in rows}
    assert {
        ("create_assessment", "success"),
        ("resolve_safety_review", "success"),
        ("resolve_safety_review", "refused"),
    } <= by_action
    [resolved] = [
        r for r in rows if (r["action"], r["outcome"]) == ("resolve_safety_review", "success")
    ]
    assert resolved["changed_fields"] == ["action", "note", "resolved_at", "resolved_by", "status"]
    values = {str(value) for row in trail["items"] for value in row.values()}
    assert not {value for value in values if note in value or value == "other"}
