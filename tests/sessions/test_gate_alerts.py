"""Scheduled doses that would fail the dosing gate raise journey alerts for clinical roles, so
staff act before the day; booking them is never refused."""

from datetime import timedelta
from typing import Any

from tests.support.factories import T0, Clinic, iso
from tests.support.gate import consent, screen, unscreened_client

DAY = timedelta(days=1)
GATE_ALERTS = {"medical_clearance_missing", "consent_missing", "rems_enrollment_missing"}


async def gate_alerts(
    clinic: Clinic, client: dict[str, Any], headers: dict[str, str] | None = None
) -> set[tuple[str, str]]:
    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey", headers=headers)
    return {(a["code"], a["session_id"]) for a in journey["alerts"] if a["code"] in GATE_ALERTS}


async def test_a_scheduler_books_a_dose_the_gate_would_refuse_and_clinicians_see_why(
    clinic: Clinic,
) -> None:
    client = await unscreened_client(clinic)
    clinician_id, _ = await clinic.staff("clinician")
    _, scheduler = await clinic.staff("scheduler")
    booked = await clinic.dose(
        client["id"], T0 + 5 * DAY, route="intranasal", clinician_id=clinician_id, headers=scheduler
    )
    await clinic.ok(
        "PATCH", f"/api/v1/ketamine-sessions/{booked['id']}", json={"medication": "esketamine"}
    )
    assert await gate_alerts(clinic, client) == {(code, booked["id"]) for code in GATE_ALERTS}
    assert await gate_alerts(clinic, client, scheduler) == set()  # clinical alerts only

    await screen(clinic, client, T0, "cleared")
    assert {code for code, _ in await gate_alerts(clinic, client)} == {
        "consent_missing",
        "rems_enrollment_missing",
    }
    await consent(clinic, client, "kap_treatment", T0)
    await consent(clinic, client, "esketamine_rems_enrollment", T0)
    assert await gate_alerts(clinic, client) == set()


async def test_each_dose_is_judged_at_its_own_start(clinic: Clinic) -> None:
    """A clearance from 360 days ago covers a dose in two days, not one in a week: the
    alert names the later dose only."""
    client = await unscreened_client(clinic)
    await screen(clinic, client, T0 - 360 * DAY, "cleared")
    await consent(clinic, client, "kap_treatment", T0 - 360 * DAY, expires_at=iso(T0 + 4 * DAY))
    soon = await clinic.dose(client["id"], T0 + 2 * DAY)
    later = await clinic.dose(client["id"], T0 + 7 * DAY)
    assert await gate_alerts(clinic, client) == {
        ("medical_clearance_missing", later["id"]),
        ("consent_missing", later["id"]),
    }
    assert soon["id"] not in {session_id for _, session_id in await gate_alerts(clinic, client)}


async def test_only_scheduled_doses_alert_and_a_gate_turned_off_raises_none(
    clinic: Clinic,
) -> None:
    client = await unscreened_client(clinic)
    cancelled = await clinic.dose(client["id"], T0 + 2 * DAY)
    await clinic.action("ketamine", cancelled["id"], "cancel", reason="Client unwell")
    assert await gate_alerts(clinic, client) == set()
    booked = await clinic.dose(client["id"], T0 + 3 * DAY)
    assert {session for _, session in await gate_alerts(clinic, client)} == {booked["id"]}
    policy = {"require_medical_clearance": False, "require_consent": False}
    await clinic.ok("PATCH", "/api/v1/clinic", json={"clinical_policy": policy})
    assert await gate_alerts(clinic, client) == set()


async def test_gate_alerts_say_when_and_what_to_do(clinic: Clinic) -> None:
    client = await unscreened_client(clinic)
    dose = await clinic.dose(client["id"], T0 + 5 * DAY)
    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    details = {a["code"]: a["detail"] for a in journey["alerts"] if a["session_id"] == dose["id"]}
    starts = f"{T0 + 5 * DAY:%Y-%m-%dT%H:%M:%SZ}"
    assert details["medical_clearance_missing"] == (
        f"No medical clearance will be in force when this dose starts ({starts}): a prescriber "
        "needs to record a cleared screening before then."
    )
    assert details["consent_missing"] == (
        f"No KAP treatment consent (kap_treatment) will be in force when this dose starts "
        f"({starts}): record the client's signed consent before then."
    )
