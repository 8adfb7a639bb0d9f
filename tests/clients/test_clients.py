"""Clients: validation, search and filters, stage is read-only, archive instead of delete."""

from datetime import timedelta

from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic


async def test_create_read_update(clinic: Clinic) -> None:
    clinician_id, _ = await clinic.staff("clinician")
    client = await clinic.client(
        email="Maya@Example.com",
        phone="+1 503 555 0142",
        presenting_concerns=["depression", "trauma"],
        primary_clinician_id=clinician_id,
    )
    assert client["stage"] == "intake"
    assert client["archived"] is False
    updated = await clinic.ok(
        "PATCH", f"/api/v1/clients/{client['id']}", json={"preferred_name": "May", "phone": None}
    )
    assert updated["preferred_name"] == "May"
    assert updated["phone"] is None
    assert updated["version"] == 2


async def test_invalid_client_input_is_422(clinic: Clinic) -> None:
    base = {"first_name": "A", "last_name": "B", "date_of_birth": "1990-01-01"}
    scheduler_id, _ = await clinic.staff("scheduler")
    for bad in (
        {"first_name": ""},
        {"date_of_birth": "2026-03-03"},
        {"date_of_birth": "1899-12-31"},
        {"date_of_birth": "1990-02-30"},
        {"email": "not-an-email"},
        {"phone": "call me"},
        {"presenting_concerns": ["boredom"]},
        {"presenting_concerns": ["trauma", "trauma"]},
        {"primary_clinician_id": scheduler_id},
        {"primary_clinician_id": "00000000-0000-4000-8000-000000000000"},
    ):
        response = await clinic.post("/api/v1/clients", json={**base, **bad})
        assert_problem(response, 422, "validation_error")
    client = await clinic.client()
    patches: list[dict[str, object]] = [
        {"first_name": None},
        {"date_of_birth": None},
        {"id": client["id"]},
        {"version": 9},
    ]
    for change in patches:
        response = await clinic.patch(f"/api/v1/clients/{client['id']}", json=change)
        assert_problem(response, 422, "validation_error")
    assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == [client]


async def test_search_and_filters(clinic: Clinic) -> None:
    clinician_id, _ = await clinic.staff("clinician")
    await clinic.client(first_name="Nora", last_name="Alvarez", email="nora@example.com")
    await clinic.client(first_name="Sam", last_name="Nguyen", primary_clinician_id=clinician_id)
    await clinic.client(first_name="Pat", last_name="O'Neil_100%")

    async def names(**params: object) -> list[str]:
        page = await clinic.ok("GET", "/api/v1/clients", params=params)
        return [c["last_name"] for c in page["items"]]

    assert await names() == ["Alvarez", "Nguyen", "O'Neil_100%"]
    assert await names(q="NORA") == ["Alvarez"]
    assert await names(q="example.com") == ["Alvarez"]
    assert await names(q="_100%") == ["O'Neil_100%"]
    assert await names(q="%") == ["O'Neil_100%"]
    assert await names(primary_clinician_id=clinician_id) == ["Nguyen"]
    assert await names(stage="intake") == ["Alvarez", "Nguyen", "O'Neil_100%"]
    assert await names(stage="maintenance") == []
    assert_problem(
        await clinic.get("/api/v1/clients", params={"stage": "done"}), 422, "validation_error"
    )


async def test_archive_and_unarchive(clinic: Clinic) -> None:
    client = await clinic.client()
    url = f"/api/v1/clients/{client['id']}"
    prep = await clinic.prep(client["id"], T0 + timedelta(days=1))
    response = await clinic.post(f"{url}/archive")
    assert_problem(response, 409, "client_has_scheduled_sessions")
    await clinic.action("preparation", prep["id"], "cancel", reason="stopping")
    archived = await clinic.ok("POST", f"{url}/archive")
    assert archived["archived"] is True
    assert_problem(await clinic.post(f"{url}/archive"), 409, "invalid_transition")
    assert (await clinic.ok("GET", "/api/v1/clients"))["items"] == []
    listed = await clinic.ok("GET", "/api/v1/clients", params={"include_archived": True})
    assert [c["id"] for c in listed["items"]] == [client["id"]]
    assert (await clinic.ok("GET", url))["archived"] is True
    restored = await clinic.ok("POST", f"{url}/unarchive")
    assert restored["archived"] is False
    assert_problem(await clinic.post(f"{url}/unarchive"), 409, "invalid_transition")
    assert (await clinic.delete(url)).status_code == 405
