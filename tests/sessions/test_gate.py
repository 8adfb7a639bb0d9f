"""The dosing gate: completing a dose needs a medical clearance, a treatment consent and, for
esketamine, REMS enrollment, each in force at the dose's start; a prescriber may override it."""

from datetime import timedelta
from typing import Any

import pytest

from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, iso
from tests.support.gate import consent, screen, unscreened_client

DAY, HOUR = timedelta(days=1), timedelta(hours=1)
DOSE_AT = T0 - 2 * DAY  # the dose took place two days ago: it can be completed now
REASON = "Consent signed on paper at check-in; the scan follows"


async def dose(clinic: Clinic, client: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return await clinic.dose(client["id"], DOSE_AT, **extra)


def complete_url(booked: dict[str, Any]) -> str:
    return f"/api/v1/ketamine-sessions/{booked['id']}/complete"


async def assert_refused(
    clinic: Clinic, booked: dict[str, Any], code: str, failed: list[str]
) -> None:
    """The completion is refused with `code` and every failed check, and changes nothing."""
    body = assert_problem(await clinic.post(complete_url(booked), json={}), 409, code)
    assert body["failed_checks"] == failed
    after = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{booked['id']}")
    assert (after["status"], after["version"]) == ("scheduled", booked["version"])


async def test_a_client_with_nothing_on_record_fails_every_check_clearance_first(
    clinic: Clinic,
) -> None:
    client = await unscreened_client(clinic)
    booked = await dose(clinic, client, route="intranasal", medication="esketamine")
    failed = ["medical_clearance_required", "consent_required", "rems_enrollment_required"]
    await assert_refused(clinic, booked, "medical_clearance_required", failed)


async def test_each_check_refuses_on_its_own(clinic: Clinic) -> None:
    client = await unscreened_client(clinic)
    booked = await dose(clinic, client, route="intranasal", medication="esketamine")
    await consent(clinic, client, "kap_treatment", T0 - 5 * DAY)
    await consent(clinic, client, "esketamine_rems_enrollment", T0 - 5 * DAY)
    await assert_refused(
        clinic, booked, "medical_clearance_required", ["medical_clearance_required"]
    )

    other = await unscreened_client(clinic)
    await screen(clinic, other, T0 - 5 * DAY, "cleared")
    await consent(clinic, other, "esketamine_rems_enrollment", T0 - 5 * DAY)
    second = await dose(clinic, other, route="intranasal", medication="esketamine")
    await assert_refused(clinic, second, "consent_required", ["consent_required"])

    third_client = await unscreened_client(clinic)
    await screen(clinic, third_client, T0 - 5 * DAY, "cleared")
    await consent(clinic, third_client, "kap_treatment", T0 - 5 * DAY)
    third = await dose(clinic, third_client, route="intranasal", medication="esketamine")
    await assert_refused(clinic, third, "rems_enrollment_required", ["rems_enrollment_required"])
    # The same client passes with ketamine: REMS enrollment is asked of esketamine only.
    ketamine = await clinic.dose(third_client["id"], DOSE_AT + DAY)
    done = await clinic.action("ketamine", ketamine["id"], "complete")
    assert done["status"] == "completed"
    assert "gate_overridden" not in done["safety_flags"]


@pytest.mark.parametrize(
    ("record", "code"),
    [
        # Screened only after the dose began: not cleared at its start.
        ("screened_after_the_start", "medical_clearance_required"),
        # Cleared 366 days before the dose: the 365-day validity ran out before it.
        ("clearance_expired", "medical_clearance_required"),
        ("not_cleared", "medical_clearance_required"),
        ("pending", "medical_clearance_required"),
        ("signed_after_the_start", "consent_required"),
        ("consent_expired_at_the_start", "consent_required"),
        ("consent_withdrawn", "consent_required"),
    ],
)
async def test_the_gate_judges_the_record_at_the_dose_start(
    clinic: Clinic, record: str, code: str
) -> None:
    client = await unscreened_client(clinic)
    cleared_at = T0 - 5 * DAY
    if record == "screened_after_the_start":
        cleared_at = DOSE_AT + HOUR
    elif record == "clearance_expired":
        cleared_at = DOSE_AT - 366 * DAY
    decision = record if record in ("not_cleared", "pending") else "cleared"
    await screen(clinic, client, cleared_at, decision)
    signed_at = DOSE_AT + HOUR if record == "signed_after_the_start" else T0 - 5 * DAY
    expiry = {"expires_at": iso(DOSE_AT)} if record == "consent_expired_at_the_start" else {}
    signed = await consent(clinic, client, "kap_treatment", signed_at, **expiry)
    booked = await dose(clinic, client)
    if record == "consent_withdrawn":  # withdrawn now; the dose starts an hour later
        url = f"/api/v1/clients/{client['id']}/consents/{signed['id']}/withdraw"
        await clinic.ok("POST", url, json={"reason": "Changed their mind"})
        booked = await clinic.dose(client["id"], T0 + HOUR)
        clinic.clock.set(T0 + 3 * HOUR)
    await assert_refused(clinic, booked, code, [code])


async def test_a_clearance_valid_exactly_at_the_start_passes(clinic: Clinic) -> None:
    client = await unscreened_client(clinic)
    await screen(clinic, client, DOSE_AT - 365 * DAY, "cleared")  # valid_until == the start
    await consent(clinic, client, "kap_treatment", DOSE_AT)  # signed at the start: in force
    booked = await dose(clinic, client)
    assert (await clinic.action("ketamine", booked["id"], "complete"))["status"] == "completed"


SETTING_OF = {
    "medical_clearance_required": "require_medical_clearance",
    "consent_required": "require_consent",
}


@pytest.mark.parametrize(
    ("turned_off", "still_failed"),
    [
        ("medical_clearance_required", "consent_required"),
        ("consent_required", "medical_clearance_required"),
    ],
)
async def test_each_clinic_setting_turns_its_checks_off(
    clinic: Clinic, turned_off: str, still_failed: str
) -> None:
    """`require_consent` covers REMS enrollment too: an esketamine dose for a client with no
    consent at all passes once it is off."""
    client = await unscreened_client(clinic)
    booked = await dose(clinic, client, route="intranasal", medication="esketamine")
    for code in (turned_off, still_failed):
        policy = {"clinical_policy": {SETTING_OF[code]: False}}
        if code == still_failed:
            failed = [still_failed]
            if still_failed == "consent_required":  # esketamine: enrollment is a consent too
                failed.append("rems_enrollment_required")
            await assert_refused(clinic, booked, still_failed, failed)
        await clinic.ok("PATCH", "/api/v1/clinic", json=policy)
    done = await clinic.action("ketamine", booked["id"], "complete")
    assert done["status"] == "completed"
    assert "gate_overridden" not in done["safety_flags"]


async def test_a_prescriber_overrides_the_gate_and_the_dose_keeps_the_flag(
    clinic: Clinic,
) -> None:
    client = await unscreened_client(clinic)
    booked = await dose(clinic, client)
    done = await clinic.ok("POST", complete_url(booked), json={"override_reason": REASON})
    assert done["status"] == "completed"
    assert "gate_overridden" in done["safety_flags"]
    override = done["gate_override"]
    assert override == {
        "reason": REASON,
        "overridden_by": clinic.admin_id,
        "overridden_at": iso(T0).replace("+00:00", "Z"),
        "failed_checks": ["medical_clearance_required", "consent_required"],
    }
    # Recording the clearance and consent afterwards does not clear the flag: it is history.
    await screen(clinic, client, T0, "cleared")
    await consent(clinic, client, "kap_treatment", T0)
    again = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{booked['id']}")
    assert "gate_overridden" in again["safety_flags"]
    assert again["gate_override"] == override
    listed = await clinic.ok("GET", "/api/v1/ketamine-sessions?safety_flag=gate_overridden")
    assert [item["id"] for item in listed["items"]] == [booked["id"]]
    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    assert [a["session_id"] for a in journey["alerts"] if a["code"] == "gate_overridden"] == [
        booked["id"]
    ]
    rows = await clinic.ok(
        "GET", "/api/v1/audit-events", params={"action": "complete_ketamine_session"}
    )
    (row,) = [r for r in rows["items"] if r["resource_id"] == booked["id"]]
    assert {"gate_override_reason", "gate_overridden_by", "status"} <= set(row["changed_fields"])
    export = await clinic.get("/api/v1/audit-events/export")
    assert REASON not in export.text  # the reason is clinical free text, kept on the dose


async def test_an_override_the_gate_does_not_need_is_refused(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    booked = await dose(clinic, client)
    response = await clinic.post(complete_url(booked), json={"override_reason": REASON})
    body = assert_problem(response, 422, "override_not_needed")
    assert body["errors"][0]["loc"] == ["body", "override_reason"]
    after = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{booked['id']}")
    assert after["status"] == "scheduled"
    assert after["gate_override"] is None


async def test_only_doses_take_an_override(clinic: Clinic) -> None:
    client = await unscreened_client(clinic)
    prep = await clinic.prep(client["id"], T0 - 3 * DAY)
    url = f"/api/v1/preparation-sessions/{prep['id']}/complete"
    response = await clinic.post(url, json={"override_reason": REASON})
    assert_problem(response, 422, "validation_error")
    assert (await clinic.ok("GET", f"/api/v1/preparation-sessions/{prep['id']}"))[
        "status"
    ] == "scheduled"


async def test_the_preparation_rule_is_not_overridden(clinic: Clinic) -> None:
    client = await clinic.client()
    await clinic.prep(client["id"], T0 - 10 * DAY)  # booked, never completed
    booked = await dose(clinic, client)
    response = await clinic.post(complete_url(booked), json={"override_reason": REASON})
    assert_problem(response, 409, "preparation_required")


async def test_the_scheduler_sees_neither_the_override_nor_its_flag(clinic: Clinic) -> None:
    client = await unscreened_client(clinic)
    booked = await dose(clinic, client)
    await clinic.ok("POST", complete_url(booked), json={"override_reason": REASON})
    _, scheduler = await clinic.staff("scheduler")
    seen = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{booked['id']}", headers=scheduler)
    assert "gate_override" not in seen
    assert "safety_flags" not in seen
    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey", headers=scheduler)
    assert not [a for a in journey["alerts"] if a["code"] == "gate_overridden"]


async def test_naming_esketamine_after_completion_asks_for_rems_enrollment(
    clinic: Clinic,
) -> None:
    client = await unscreened_client(clinic)
    await screen(clinic, client, T0 - 5 * DAY, "cleared")
    await consent(clinic, client, "kap_treatment", T0 - 5 * DAY)
    booked = await dose(clinic, client, route="intranasal")
    done = await clinic.action("ketamine", booked["id"], "complete")
    url = f"/api/v1/ketamine-sessions/{booked['id']}"
    response = await clinic.patch(url, json={"medication": "esketamine"})
    body = assert_problem(response, 409, "rems_enrollment_required")
    assert body["failed_checks"] == ["rems_enrollment_required"]
    assert (await clinic.ok("GET", url))["version"] == done["version"]
    await consent(clinic, client, "esketamine_rems_enrollment", T0 - 5 * DAY)
    named = await clinic.ok("PATCH", url, json={"medication": "esketamine"})
    assert named["medication"] == "esketamine"


async def test_an_overridden_dose_may_be_named_esketamine_later(clinic: Clinic) -> None:
    client = await unscreened_client(clinic)
    booked = await dose(clinic, client, route="intranasal")
    await clinic.ok("POST", complete_url(booked), json={"override_reason": REASON})
    url = f"/api/v1/ketamine-sessions/{booked['id']}"
    named = await clinic.ok("PATCH", url, json={"medication": "esketamine"})
    assert "gate_overridden" in named["safety_flags"]
