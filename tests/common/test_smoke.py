"""A first end-to-end pass: a client's journey from intake to a flagged integration session."""

from datetime import timedelta

from tests.support.factories import T0, Clinic


async def test_journey_flags_integration_in_window(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + timedelta(days=1), transport_confirmed=True)
    integration = await clinic.integration(client["id"], T0 + timedelta(days=2))
    assert integration["window"]["status"] == "in_window"
    assert integration["window"]["ketamine_session_id"] == dose["id"]
    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    assert [s["kind"] for s in journey["sessions"]] == ["preparation", "ketamine", "integration"]
    assert journey["alerts"] == []
