"""A PHQ-9 with item 9 above 0 opens a safety review in its own transaction, and the journey
alert follows open reviews, not the latest score."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from tests.safety_reviews.support import (
    OPENED,
    REVIEWS,
    phq9,
    record_phq9,
    reviews_of,
    self_harm_alerts,
    stored_events,
)
from tests.support.factories import T0, Clinic, iso
from tests.webhooks.support import make_endpoint

HOOK = "http://127.0.0.1:9/hook"


async def test_a_positive_item_9_opens_a_review_with_the_assessment(
    clinic: Clinic, app: FastAPI
) -> None:
    await make_endpoint(clinic, HOOK, OPENED)
    client = await clinic.client()
    clinic.clock.advance(timedelta(minutes=30))
    assessment = await record_phq9(clinic, client["id"], 2, T0)
    [review] = await reviews_of(clinic, client["id"])
    assert review == {
        "id": review["id"],
        "client_id": client["id"],
        "assessment_id": assessment["id"],
        "opened_at": iso(clinic.clock.now).replace("+00:00", "Z"),
        "status": "open",
        "resolved_at": None,
        "resolved_by": None,
        "action": None,
        "note": None,
        "version": 1,
    }
    read = await clinic.get(f"{REVIEWS}/{review['id']}")
    assert read.json() == review
    assert read.headers["etag"] == '"1"'
    # Resolving sends nothing more: one event, with ids and the version only (no score, no
    # answer, no note).
    await clinic.ok(
        "POST", f"{REVIEWS}/{review['id']}/resolve", json={"action": "other", "note": "n"}
    )
    assert await stored_events(app, clinic, OPENED) == [
        {
            "safety_review_id": review["id"],
            "client_id": client["id"],
            "assessment_id": assessment["id"],
            "version": 1,
        }
    ]


@pytest.mark.parametrize(
    ("instrument", "items"),
    [("phq9", phq9(0, rest=3)), ("gad7", [3] * 7), ("pcl5", [4] * 20)],
    ids=["phq9-item-9-at-0", "gad7", "pcl5"],
)
async def test_nothing_else_opens_one(
    clinic: Clinic, app: FastAPI, instrument: str, items: list[int]
) -> None:
    await make_endpoint(clinic, HOOK, OPENED)
    client = await clinic.client()
    body = {"instrument": instrument, "item_scores": items, "administered_at": iso(T0)}
    await clinic.ok("POST", f"/api/v1/clients/{client['id']}/assessments", 201, json=body)
    assert await reviews_of(clinic, client["id"]) == []
    assert await self_harm_alerts(clinic, client["id"]) == []
    assert await stored_events(app, clinic, OPENED) == []


@pytest.mark.parametrize(
    "refusal",
    [
        {"item_scores": [*phq9(1)[:-2], 4, 1]},  # item 8 out of range, item 9 positive
        {"administered_at": iso(T0 + timedelta(hours=1))},  # in the future
        {"session_id": "other-client"},
    ],
    ids=["bad-item", "future", "another-clients-session"],
)
async def test_a_refused_assessment_opens_nothing(
    clinic: Clinic, app: FastAPI, refusal: dict[str, Any]
) -> None:
    await make_endpoint(clinic, HOOK, OPENED, "assessment.self_harm_flag")
    client, other = await clinic.client(), await clinic.client(last_name="Other")
    if refusal.get("session_id") == "other-client":
        session = await clinic.prep(other["id"], T0 - timedelta(days=1))
        refusal = {"session_id": session["id"]}
    body = {"instrument": "phq9", "item_scores": phq9(1), "administered_at": iso(T0), **refusal}
    refused = await clinic.post(f"/api/v1/clients/{client['id']}/assessments", json=body)
    assert refused.status_code == 422, refused.text
    assert (await clinic.ok("GET", REVIEWS))["items"] == []
    assert await self_harm_alerts(clinic, client["id"]) == []
    assert await stored_events(app, clinic, OPENED) == []
    # The same body without the fault opens one: the refusal, not the body, kept it closed.
    await record_phq9(clinic, client["id"], 1, T0)
    assert len(await reviews_of(clinic, client["id"])) == 1


async def test_a_later_item_9_at_0_leaves_the_review_and_its_alert(
    clinic: Clinic, app: FastAPI
) -> None:
    await make_endpoint(clinic, HOOK, OPENED)
    client = await clinic.client()
    prep = await clinic.prep(client["id"], T0 - timedelta(days=2))
    flagged = await record_phq9(
        clinic, client["id"], 1, T0 - timedelta(days=1), session_id=prep["id"]
    )
    [review] = await reviews_of(clinic, client["id"])
    clinic.clock.advance(timedelta(days=7))
    await record_phq9(clinic, client["id"], 0, T0 + timedelta(days=6))
    [alert] = await self_harm_alerts(clinic, client["id"])
    assert alert["safety_review_id"] == review["id"]
    assert alert["assessment_id"] == flagged["id"]
    assert alert["session_id"] == prep["id"]
    assert (await clinic.ok("GET", f"{REVIEWS}/{review['id']}"))["status"] == "open"
    assert len(await stored_events(app, clinic, OPENED)) == 1  # once, for the positive one


async def test_each_positive_phq9_opens_its_own_review_and_alert(clinic: Clinic) -> None:
    client, other = await clinic.client(), await clinic.client(last_name="Other")
    first = await record_phq9(clinic, client["id"], 1, T0 - timedelta(days=14))
    clinic.clock.advance(timedelta(minutes=1))
    second = await record_phq9(clinic, client["id"], 3, T0 - timedelta(days=7))
    await record_phq9(clinic, other["id"], 2, T0)
    reviews = await reviews_of(clinic, client["id"])
    assert [r["assessment_id"] for r in reviews] == [first["id"], second["id"]]
    alerts = await self_harm_alerts(clinic, client["id"])
    assert [a["safety_review_id"] for a in alerts] == [r["id"] for r in reviews]


async def test_the_scheduler_sees_no_review_alert(clinic: Clinic) -> None:
    client = await clinic.client()
    await record_phq9(clinic, client["id"], 1, T0)
    _, scheduler = await clinic.staff("scheduler")
    assert len(await self_harm_alerts(clinic, client["id"])) == 1
    assert await self_harm_alerts(clinic, client["id"], headers=scheduler) == []
