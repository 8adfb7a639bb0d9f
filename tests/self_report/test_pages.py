"""/r/<token>: the client's form and its submission, over HTTP, for every status a page has."""

import asyncio
import re
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.self_report.instruments import WORDINGS
from tests.safety_reviews.support import reviews_of, stored_events
from tests.self_report.support import (
    FORM,
    ITEMS,
    answers,
    create_link,
    page_path,
    requests_url,
    stored_link,
    submit,
    token_of,
)
from tests.support.factories import Clinic, FakeClock
from tests.webhooks.support import make_endpoint

HOOK = "http://127.0.0.1:9/hooks"  # never called: the tests read the stored events
COMPLETED = "assessment_request.completed"
CLIENT = {"first_name": "Zephyrine", "last_name": "Quillfeather", "date_of_birth": "1983-07-29"}


def assert_page(response: httpx.Response, status: int) -> str:
    """A page with the headers every link page carries; its text."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "form-action 'self'" in csp
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", csp), csp
    assert "script-src" not in csp
    assert "unsafe" not in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    return response.text


def assert_no_phi(text: str) -> None:
    for value in CLIENT.values():
        assert value not in text


@pytest.mark.parametrize("instrument", ["phq9", "gad7", "pcl5"])
async def test_the_form_shows_the_clinic_and_the_wording_and_nothing_about_the_client(
    http: httpx.AsyncClient, clinic: Clinic, instrument: str
) -> None:
    client = await clinic.ok("POST", "/api/v1/clients", 201, json=CLIENT)
    link = await create_link(clinic, client["id"], instrument)
    body = assert_page(await http.get(page_path(link)), 200)
    name = (await clinic.ok("GET", "/api/v1/clinic"))["name"]
    assert name in body
    assert_no_phi(body)
    assert client["id"] not in body
    assert link["id"] not in body
    wording = WORDINGS[instrument]  # type: ignore[index]
    count, top = ITEMS[instrument]
    assert body.count("<fieldset") == count == len(wording.items)
    assert body.count("<legend>") == count
    assert body.count('type="radio"') == count * (top + 1)
    for number in range(1, count + 1):
        for value in range(top + 1):
            input_id = f"item{number}-{value}"
            assert f'name="item{number}" id="{input_id}" value="{value}"' in body
            assert f'<label for="{input_id}">' in body
    for label in wording.choice_labels:
        assert label in body
    assert "<script" not in body
    assert "src=" not in body
    assert "<link" not in body
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body


@pytest.mark.parametrize(
    ("instrument", "items", "total"),
    [
        ("phq9", {"item1": 3, "item2": 2, "item9": 0}, 11),
        ("gad7", {"item7": 3}, 9),
        ("pcl5", {"item20": 4}, 23),
    ],
)
async def test_a_submission_records_the_assessment_as_a_self_report(
    app: FastAPI,
    http: httpx.AsyncClient,
    clinic: Clinic,
    clock: FakeClock,
    instrument: str,
    items: dict[str, int],
    total: int,
) -> None:
    await make_endpoint(clinic, HOOK, COMPLETED)
    client = await clinic.client()
    session = await clinic.prep(client["id"], clock.now + timedelta(days=1))
    _, clinician = await clinic.staff("clinician")
    made = await clinic.post(
        requests_url(client["id"]),
        json={"instrument": instrument, "session_id": session["id"]},
        headers=clinician,
    )
    link = made.json()
    clock.advance(timedelta(hours=5))
    response = await submit(http, link, answers(instrument, 1, **items))
    body = assert_page(response, 200)
    assert "Thank you" in body
    assert "You said" not in body
    stored = await stored_link(app, link["id"])
    assert stored.completed_at == clock.now
    listed = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/assessments")
    [assessment] = listed["items"]
    assert assessment["id"] == str(stored.assessment_id)
    assert (assessment["instrument"], assessment["total"], assessment["source"]) == (
        instrument,
        total,
        "client_self_report",
    )
    assert assessment["recorded_by"] == link["created_by"] != clinic.admin_id
    assert assessment["session_id"] == session["id"]
    assert assessment["administered_at"] == clock.now.isoformat().replace("+00:00", "Z")
    [event] = await stored_events(app, clinic, COMPLETED)
    assert event == {
        "assessment_request_id": link["id"],
        "client_id": client["id"],
        "assessment_id": assessment["id"],
        "session_id": session["id"],
        "version": 2,
    }


async def test_phq9_item_9_opens_a_safety_review_and_shows_crisis_resources(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic
) -> None:
    await make_endpoint(clinic, HOOK, "safety_review.opened", "assessment.self_harm_flag")
    client = await clinic.client()
    link = await create_link(clinic, client["id"], "phq9")
    body = assert_page(await submit(http, link, answers("phq9", 0, item9=1)), 200)
    assert "988 Suicide &amp; Crisis Lifeline" in body
    assert 'href="tel:988"' in body
    assert 'href="tel:911"' in body
    assert "You said" in body
    [review] = await reviews_of(clinic, client["id"])
    stored = await stored_link(app, link["id"])
    assert review["assessment_id"] == str(stored.assessment_id)
    assert review["status"] == "open"
    [opened] = await stored_events(app, clinic, "safety_review.opened")
    assert opened["assessment_id"] == str(stored.assessment_id)
    assert await stored_events(app, clinic, "assessment.self_harm_flag")


async def test_a_used_expired_or_revoked_link_is_gone(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic, clock: FakeClock
) -> None:
    client = await clinic.client()
    used = await create_link(clinic, client["id"], "gad7")
    assert (await submit(http, used, answers("gad7"))).status_code == 200
    expired = await create_link(clinic, client["id"], "gad7", expires_in_hours=1)
    revoked = await create_link(clinic, client["id"], "gad7")
    await clinic.ok("POST", f"{requests_url(client['id'])}/{revoked['id']}/revoke")
    just_open = await create_link(clinic, client["id"], "gad7", expires_in_hours=1)
    clock.advance(timedelta(hours=1) - timedelta(seconds=1))
    assert (await http.get(page_path(just_open))).status_code == 200  # a second to go
    clock.advance(timedelta(seconds=1))
    for link, heading in (
        (used, "already been sent"),
        (expired, "has expired"),
        (revoked, "no longer active"),
    ):
        body = assert_page(await http.get(page_path(link)), 410)
        assert heading in body
        body = assert_page(await submit(http, link, answers("gad7", 2)), 410)
        assert heading in body
    listed = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/assessments")
    assert len(listed["items"]) == 1  # only the first use recorded anything
    assert (await stored_link(app, expired["id"])).assessment_id is None


async def test_an_unknown_link_is_a_404_page(http: httpx.AsyncClient, clinic: Clinic) -> None:
    client = await clinic.client()
    link = await create_link(clinic, client["id"])
    token = token_of(link)
    scheme, prefix, secret = token.split("_", 2)
    for guess in (
        f"{scheme}_{prefix}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}",  # wrong secret
        f"{scheme}_{'0' * 12}_{secret}",  # unknown prefix
        f"kap_{prefix}_{secret}",  # another scheme (an API key's)
        "nothing-like-a-token",
        "kapsr_" + "a" * 300,
    ):
        body = assert_page(await http.get(f"/r/{guess}"), 404)
        assert "does not work" in body
        assert_page(await http.post(f"/r/{guess}", data=answers("phq9")), 404)
    assert (await http.get(page_path(link))).status_code == 200  # the real one still opens


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ({"item3": ""}, [3]),
        ({"item9": "4"}, [9]),
        ({"item1": "-1", "item2": "one", "item5": "1.0"}, [1, 2, 5]),
        ({"item4": "٣"}, [4]),  # an Arabic-Indic digit is a digit, not one of the choices
    ],
)
async def test_a_missing_or_out_of_range_item_is_a_422_naming_it_and_records_nothing(
    app: FastAPI,
    http: httpx.AsyncClient,
    clinic: Clinic,
    form: dict[str, str],
    named: list[int],
) -> None:
    client = await clinic.client()
    link = await create_link(clinic, client["id"], "phq9")
    full = answers("phq9", 2)
    full.update(form)
    body = assert_page(await submit(http, link, {k: v for k, v in full.items() if v}), 422)
    for number in named:
        assert f'<a href="#item{number}">Question {number}:' in body
        assert f'id="item{number}" class="invalid" aria-describedby="item{number}-error"' in body
    assert body.count('class="invalid"') == len(named)
    # The answers that were fine are kept, so the client answers only what is marked.
    assert body.count(" checked>") == 9 - len(named)
    assert (await clinic.ok("GET", f"/api/v1/clients/{client['id']}/assessments"))["items"] == []
    assert (await stored_link(app, link["id"])).completed_at is None
    assert (await submit(http, link, answers("phq9", 2))).status_code == 200


async def test_a_repeated_item_is_no_answer(http: httpx.AsyncClient, clinic: Clinic) -> None:
    client = await clinic.client()
    link = await create_link(clinic, client["id"], "gad7")
    content = "&".join(f"item{n}=1" for n in range(1, 8)) + "&item2=3"
    response = await http.post(page_path(link), content=content, headers=FORM)
    body = assert_page(response, 422)
    assert '<a href="#item2">Question 2:' in body


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "text/plain"},
        {},
    ],
)
async def test_a_submission_that_is_not_a_web_form_is_a_415_page(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic, headers: dict[str, str]
) -> None:
    client = await clinic.client()
    link = await create_link(clinic, client["id"], "gad7")
    content = "&".join(f"item{n}=1" for n in range(1, 8))
    response = await http.post(page_path(link), content=content, headers=headers)
    body = assert_page(response, 415)
    assert "could not be read" in body
    assert (await stored_link(app, link["id"])).completed_at is None
    # The same form as a web form goes through.
    response = await http.post(page_path(link), content=content, headers=FORM)
    assert response.status_code == 200


async def test_a_link_of_one_clinic_records_in_that_clinic_only(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic, clock: FakeClock
) -> None:
    from tests.support.factories import bootstrap

    other = await bootstrap(app, http, clock)
    await make_endpoint(clinic, HOOK, COMPLETED)
    await make_endpoint(other, HOOK, COMPLETED)
    mine, theirs = await clinic.client(), await other.client()
    link = await create_link(other, theirs["id"], "gad7")
    assert (await submit(http, link, answers("gad7"))).status_code == 200
    assert (await clinic.ok("GET", f"/api/v1/clients/{mine['id']}/assessments"))["items"] == []
    response = await clinic.get(f"/api/v1/clients/{theirs['id']}/assessments")
    assert response.status_code == 404
    recorded = await other.ok("GET", f"/api/v1/clients/{theirs['id']}/assessments")
    assert len(recorded["items"]) == 1
    assert await stored_events(app, clinic, COMPLETED) == []
    assert len(await stored_events(app, other, COMPLETED)) == 1
    assert uuid.UUID(recorded["items"][0]["id"])


async def test_two_submissions_at_once_record_one_assessment(
    app: FastAPI, http: httpx.AsyncClient, clinic: Clinic
) -> None:
    client = await clinic.client()
    link = await create_link(clinic, client["id"], "gad7")
    first, second = await asyncio.gather(
        submit(http, link, answers("gad7", 1)), submit(http, link, answers("gad7", 3))
    )
    assert sorted([first.status_code, second.status_code]) == [200, 410]
    listed = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/assessments")
    assert len(listed["items"]) == 1
