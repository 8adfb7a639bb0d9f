"""The API conventions: problem+json, auth, tenancy, ETags, pagination, Location.

The choices among them are in docs/decisions.md, "HTTP conventions".
"""

from datetime import timedelta

import httpx
from fastapi import FastAPI

from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, bearer, bootstrap

PROBLEM = "application/problem+json"


async def test_naive_timestamp_is_422_and_nothing_is_written(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    response = await clinic.post(
        "/api/v1/ketamine-sessions",
        json={
            "client_id": client["id"],
            "starts_at": "2026-03-05T09:00:00",
            "ends_at": "2026-03-05T11:00:00Z",
            "route": "iv",
        },
    )
    body = assert_problem(response, 422, "validation_error")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert any(e["loc"] == ["body", "starts_at"] for e in errors)
    listed = await clinic.ok("GET", "/api/v1/ketamine-sessions")
    assert listed["items"] == []


async def test_unknown_and_read_only_fields_are_422(clinic: Clinic) -> None:
    response = await clinic.post(
        "/api/v1/clients",
        json={"first_name": "A", "last_name": "B", "date_of_birth": "1990-01-01", "nickname": "x"},
    )
    assert_problem(response, 422, "validation_error")
    client = await clinic.client()
    response = await clinic.patch(f"/api/v1/clients/{client['id']}", json={"stage": "maintenance"})
    assert_problem(response, 422, "validation_error")


async def test_malformed_json_is_422(clinic: Clinic) -> None:
    response = await clinic.post(
        "/api/v1/clients", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation_error")


async def test_missing_and_bad_tokens_are_401_with_challenge(
    clinic: Clinic, http: httpx.AsyncClient
) -> None:
    for headers in (
        {},
        bearer("nope"),
        bearer("kap_abc_wrongsecret"),
        {"Authorization": "Basic x"},
    ):
        response = await http.get("/api/v1/clients", headers=headers)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_unknown_route_is_problem_json(clinic: Clinic) -> None:
    assert_problem(await clinic.get("/api/v1/nothing-here"), 404, "not_found")


async def test_another_clinics_resources_do_not_exist(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    other = await bootstrap(app, http, clinic.clock)
    client = await other.prepared_client()
    dose = await other.dose(client["id"], T0 + timedelta(days=1))
    staff_id, _ = await other.staff()
    for url in (
        f"/api/v1/clients/{client['id']}",
        f"/api/v1/clients/{client['id']}/journey",
        f"/api/v1/ketamine-sessions/{dose['id']}",
        f"/api/v1/staff/{staff_id}",
    ):
        assert_problem(await clinic.get(url), 404, "not_found")
    response = await clinic.post(
        f"/api/v1/ketamine-sessions/{dose['id']}/cancel", json={"reason": "x"}
    )
    assert_problem(response, 404, "not_found")
    # A body reference to another clinic's client is refused, and nothing leaks.
    response = await clinic.post(
        "/api/v1/preparation-sessions",
        json={
            "client_id": client["id"],
            "starts_at": "2026-03-05T09:00:00Z",
            "ends_at": "2026-03-05T10:00:00Z",
        },
    )
    assert_problem(response, 422, "validation_error")
    assert (await other.ok("GET", f"/api/v1/ketamine-sessions/{dose['id']}"))[
        "status"
    ] == "scheduled"


async def test_create_returns_201_location_and_etag(clinic: Clinic) -> None:
    response = await clinic.post(
        "/api/v1/clients", json={"first_name": "A", "last_name": "B", "date_of_birth": "1990-01-01"}
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/v1/clients/{body['id']}"
    assert response.headers["etag"] == '"1"'
    fetched = await clinic.get(response.headers["location"])
    assert fetched.json() == body


async def test_if_match_mismatch_is_412_and_changes_nothing(clinic: Clinic) -> None:
    client = await clinic.client()
    url = f"/api/v1/clients/{client['id']}"
    first = await clinic.patch(url, json={"preferred_name": "May"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    assert first.headers["etag"] == '"2"'
    stale = await clinic.patch(url, json={"preferred_name": "Mai"}, headers={"If-Match": '"1"'})
    assert_problem(stale, 412, "version_conflict")
    current = await clinic.ok("GET", url)
    assert current["preferred_name"] == "May"
    assert current["version"] == 2
    # Actions honour If-Match too.
    prep = await clinic.prep(client["id"], T0 + timedelta(days=1))
    response = await clinic.post(
        f"/api/v1/preparation-sessions/{prep['id']}/cancel",
        json={"reason": "x"},
        headers={"If-Match": '"7"'},
    )
    assert_problem(response, 412, "version_conflict")
    weak = await clinic.post(
        f"/api/v1/preparation-sessions/{prep['id']}/cancel",
        json={"reason": "x"},
        headers={"If-Match": 'W/"1"'},
    )
    assert weak.status_code == 200
    assert weak.json()["status"] == "cancelled"


async def test_cursor_pagination_walks_every_row_once(clinic: Clinic) -> None:
    names = [f"Client{i:02d}" for i in range(7)]
    for name in names:
        await clinic.client(last_name=name)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await clinic.ok("GET", "/api/v1/clients", params=params)
        seen += [c["last_name"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    assert pages == 3


async def test_bad_cursor_and_limits_are_422(clinic: Clinic) -> None:
    assert_problem(
        await clinic.get("/api/v1/clients", params={"cursor": "garbage!"}), 422, "invalid_cursor"
    )
    assert_problem(
        await clinic.get("/api/v1/ketamine-sessions", params={"cursor": "WzFd"}),
        422,
        "invalid_cursor",
    )
    for limit in (0, 201, "x"):
        response = await clinic.get("/api/v1/clients", params={"limit": limit})
        assert_problem(response, 422, "validation_error")


async def test_health_and_readiness(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = (await http.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["details"]["rate_limit"]["store"] in {"memory", "redis"}
    metrics = await http.get("/metrics")
    assert "kap_http_requests_total" in metrics.text


async def test_request_ids_are_always_made_by_the_service(clinic: Clinic) -> None:
    # A caller's own id is kept as client_request_id (tests/ops/test_request_ids.py), not echoed.
    for sent in ("trace-42.a", "bad id with spaces"):
        made = await clinic.get("/api/v1/clinic", headers={"X-Request-ID": sent})
        assert made.headers["x-request-id"] != sent
        assert len(made.headers["x-request-id"]) == 32


async def test_implausible_timestamps_are_422_not_500(clinic: Clinic) -> None:
    client = await clinic.client()
    for starts, ends in (
        ("9999-12-31T20:00:00Z", "9999-12-31T21:00:00Z"),
        ("0001-01-01T00:00:00+01:00", "0001-01-01T01:00:00+01:00"),
        ("1899-12-31T23:00:00Z", "1900-01-01T00:30:00Z"),
    ):
        body = {"client_id": client["id"], "starts_at": starts, "ends_at": ends}
        response = await clinic.post("/api/v1/preparation-sessions", json=body)
        assert_problem(response, 422, "validation_error")
    response = await clinic.get(
        "/api/v1/preparation-sessions", params={"starts_after": "9999-12-31T23:59:59Z"}
    )
    assert_problem(response, 422, "validation_error")
