"""The dosing record of ketamine sessions and the safety flags the clinic's thresholds raise."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.factories import T0, Clinic, iso
from tests.support.rems import NO_CONCOMITANT_MEDICATIONS, rems_record

START = T0 - timedelta(hours=3)
MINUTE = timedelta(minutes=1)


async def given_dose(clinic: Clinic, route: str = "intranasal", **record: Any) -> dict[str, Any]:
    """A completed dose that started three hours ago, with `record` written onto it."""
    client = await clinic.prepared_client()
    booked = await clinic.dose(client["id"], START, route=route)
    dose = await clinic.action("ketamine", booked["id"], "complete")
    if not record:
        return dose
    return await write(clinic, dose, **record)


async def write(clinic: Clinic, dose: dict[str, Any], **record: Any) -> dict[str, Any]:
    return await clinic.ok("PATCH", f"/api/v1/ketamine-sessions/{dose['id']}", json=record)


def vital(label: str, at: datetime, **readings: int) -> dict[str, Any]:
    return {"taken_at": iso(at), "label": label, **readings}


FULL_RECORD: dict[str, Any] = {
    "medication": "esketamine",
    "lot_number": "LOT-24A117",
    "vitals": [
        vital("discharge", START + timedelta(hours=2), systolic=128, diastolic=82, heart_rate=74),
        vital("pre_dose", START - 10 * MINUTE, systolic=132, diastolic=84, heart_rate=70, spo2=98),
        vital("peak", START + 40 * MINUTE, systolic=151, diastolic=94, heart_rate=88, spo2=97),
        vital("other", START + 90 * MINUTE, spo2=99),
    ],
    "adverse_events": [
        {"kind": "nausea", "severity": "mild", "onset_at": iso(START + 30 * MINUTE)},
    ],
    "dosed_at": iso(START + 5 * MINUTE),
    "ready_to_leave_at": iso(START + timedelta(hours=2)),
    "discharged_at": iso(START + timedelta(hours=2, minutes=5)),
    "transport_confirmed": True,
    "concomitant_medications": NO_CONCOMITANT_MEDICATIONS,
}


async def test_the_dosing_record_round_trips_for_clinicians_only(clinic: Clinic) -> None:
    dose = await given_dose(clinic, **FULL_RECORD)
    assert (dose["medication"], dose["lot_number"]) == ("esketamine", "LOT-24A117")
    assert [v["label"] for v in dose["vitals"]] == ["pre_dose", "peak", "other", "discharge"]
    assert dose["vitals"][0]["taken_at"].endswith("Z")
    assert dose["adverse_events"][0]["kind"] == "nausea"
    assert dose["rems_form_due_at"] == iso(START + timedelta(days=7)).replace("+00:00", "Z")
    assert dose["ready_to_leave_at"] == iso(START + timedelta(hours=2)).replace("+00:00", "Z")
    assert dose["concomitant_medications"] == NO_CONCOMITANT_MEDICATIONS
    assert (dose["safety_flags"], dose["rems_record_missing"]) == (["rems_form_due"], [])

    _, scheduler = await clinic.staff("scheduler")
    seen = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{dose['id']}", headers=scheduler)
    hidden = ("medication", "vitals", "adverse_events", "safety_flags", "rems_form_due_at")
    rems = ("ready_to_leave_at", "concomitant_medications", "rems_record_missing")
    for field in (*hidden, *rems):
        assert field not in seen
    refused = await clinic.patch(
        f"/api/v1/ketamine-sessions/{dose['id']}",
        json={"transport_confirmed": True},
        headers=scheduler,
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("record", "loc"),
    [
        ({"vitals": [vital("peak", START, systolic=400, diastolic=80)]}, "systolic"),
        ({"vitals": [vital("peak", START, systolic=120, diastolic=130)]}, "vitals"),
        ({"vitals": [vital("peak", START, systolic=120)]}, "vitals"),
        ({"vitals": [vital("peak", START, spo2=101)]}, "spo2"),
        ({"vitals": [vital("peak", START)]}, "vitals"),
        ({"vitals": [vital("peak", T0 + MINUTE, heart_rate=80)]}, "vitals"),
        ({"vitals": [vital("peak", START - timedelta(hours=3), heart_rate=80)]}, "vitals"),
        ({"discharged_at": iso(START - MINUTE)}, "discharged_at"),
        ({"medication": "esketamine"}, "route"),
        ({"adverse_events": [{"kind": "x", "severity": "mild", "onset_at": iso(START)}]}, "kind"),
    ],
)
async def test_implausible_records_are_422_and_change_nothing(
    clinic: Clinic, record: dict[str, Any], loc: str
) -> None:
    dose = await given_dose(clinic, route="iv")
    response = await clinic.patch(f"/api/v1/ketamine-sessions/{dose['id']}", json=record)
    assert response.status_code == 422, response.text
    assert loc in response.json()["errors"][0]["loc"]
    again = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{dose['id']}")
    assert (again["vitals"], again["medication"], again["version"]) == ([], None, dose["version"])


@pytest.mark.parametrize(
    ("systolic", "diastolic", "flagged"),
    [(140, 90, False), (141, 80, True), (130, 91, True), (139, 89, False)],
)
async def test_a_pre_dose_pressure_above_140_90_is_flagged(
    clinic: Clinic, systolic: int, diastolic: int, flagged: bool
) -> None:
    pre = vital("pre_dose", START - MINUTE, systolic=systolic, diastolic=diastolic)
    high_later = vital("peak", START + MINUTE, systolic=170, diastolic=100)  # not pre-dose
    dose = await given_dose(clinic, vitals=[pre, high_later], transport_confirmed=True)
    assert ("pre_dose_bp_elevated" in dose["safety_flags"]) is flagged


async def test_thresholds_are_clinic_policy(clinic: Clinic) -> None:
    pre = vital("pre_dose", START - MINUTE, systolic=135, diastolic=85)
    dose = await given_dose(clinic, vitals=[pre])
    assert "pre_dose_bp_elevated" not in dose["safety_flags"]
    policy = {"clinical_policy": {"pre_dose_bp_max": {"systolic": 130}, "rems_form_due_days": 3}}
    clinic_read = await clinic.ok("PATCH", "/api/v1/clinic", json=policy)
    assert clinic_read["clinical_policy"]["pre_dose_bp_max"] == {"systolic": 130, "diastolic": 90}
    again = await clinic.ok("GET", f"/api/v1/ketamine-sessions/{dose['id']}")
    assert "pre_dose_bp_elevated" in again["safety_flags"]


@pytest.mark.parametrize(("minutes", "flagged"), [(119, True), (120, False)])
async def test_esketamine_monitoring_under_the_minimum_is_flagged(
    clinic: Clinic, minutes: int, flagged: bool
) -> None:
    discharged = iso(START + timedelta(minutes=minutes))
    dose = await given_dose(clinic, medication="esketamine", discharged_at=discharged)
    assert ("monitoring_under_minimum" in dose["safety_flags"]) is flagged
    ketamine = await given_dose(clinic, route="iv", discharged_at=discharged)
    assert "monitoring_under_minimum" not in ketamine["safety_flags"]


async def test_monitoring_is_measured_from_the_dose_once_it_is_recorded(clinic: Clinic) -> None:
    discharged = iso(START + 130 * MINUTE)
    dose = await given_dose(clinic, medication="esketamine", discharged_at=discharged)
    assert "monitoring_under_minimum" not in dose["safety_flags"]  # 130 min from the start
    dosed = await write(clinic, dose, dosed_at=iso(START + 15 * MINUTE))
    assert dosed["dosed_at"] == iso(START + 15 * MINUTE).replace("+00:00", "Z")
    assert "monitoring_under_minimum" in dosed["safety_flags"]  # 115 min from the dose
    late = await clinic.patch(
        f"/api/v1/ketamine-sessions/{dose['id']}", json={"dosed_at": iso(START + 131 * MINUTE)}
    )
    assert late.status_code == 422  # after the discharge already on record
    assert late.json()["errors"][0]["loc"] == ["body", "dosed_at"]


async def test_the_rems_form_is_due_until_submitted(clinic: Clinic) -> None:
    dose = await given_dose(clinic, **FULL_RECORD)
    assert "rems_form_due" in dose["safety_flags"]
    submitted = await write(clinic, dose, rems_form_submitted_at=iso(T0))
    assert "rems_form_due" not in submitted["safety_flags"]
    ketamine = await given_dose(clinic, route="iv")
    assert ketamine["rems_form_due_at"] is None


@pytest.mark.parametrize(("hours_ahead", "flagged"), [(23, True), (25, False)])
async def test_transport_is_asked_of_a_dose_a_day_ahead(
    clinic: Clinic, hours_ahead: int, flagged: bool
) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + timedelta(hours=hours_ahead))
    assert ("transport_unconfirmed" in dose["safety_flags"]) is flagged
    confirmed = await write(clinic, dose, transport_confirmed=True)
    assert "transport_unconfirmed" not in confirmed["safety_flags"]


async def test_flags_filter_lists_and_raise_journey_alerts(clinic: Clinic) -> None:
    high = vital("pre_dose", START - MINUTE, systolic=150, diastolic=95)
    flagged = await given_dose(clinic, vitals=[high])
    await given_dose(clinic, vitals=[vital("pre_dose", START - MINUTE, systolic=120, diastolic=80)])
    listed = await clinic.ok("GET", "/api/v1/ketamine-sessions?safety_flag=pre_dose_bp_elevated")
    assert [d["id"] for d in listed["items"]] == [flagged["id"]]
    journey = await clinic.ok("GET", f"/api/v1/clients/{flagged['client_id']}/journey")
    assert ("pre_dose_bp_elevated", flagged["id"]) in {
        (a["code"], a["session_id"]) for a in journey["alerts"]
    }
    _, scheduler = await clinic.staff("scheduler")
    refused = await clinic.get(
        "/api/v1/ketamine-sessions?safety_flag=rems_form_due", headers=scheduler
    )
    assert refused.status_code == 403
    hidden = await clinic.ok(
        "GET", f"/api/v1/clients/{flagged['client_id']}/journey", headers=scheduler
    )
    assert all(a["code"].startswith("integration_") for a in hidden["alerts"])


@pytest.mark.parametrize(
    "flag",
    [
        "pre_dose_bp_elevated",
        "monitoring_under_minimum",
        "transport_unconfirmed",
        "rems_form_due",
        "rems_monitoring_incomplete",
    ],
)
async def test_the_sql_filter_agrees_with_the_computed_flags(clinic: Clinic, flag: str) -> None:
    client = await clinic.prepared_client()

    def records(at: datetime) -> list[dict[str, Any]]:
        return [
            {"medication": "esketamine", "discharged_at": iso(at + 100 * MINUTE)},
            # REMS-complete and submitted: raises nothing
            {**rems_record(at + 5 * MINUTE), "rems_form_submitted_at": iso(T0)},
            {"vitals": [vital("pre_dose", at - MINUTE, systolic=145, diastolic=80)]},
            {"transport_confirmed": True},
            # 130 minutes from the start, but 100 from the dose given half an hour in
            {
                "medication": "esketamine",
                "dosed_at": iso(at + 30 * MINUTE),
                "discharged_at": iso(at + 130 * MINUTE),
            },
        ]

    for n in range(5):
        at = START - timedelta(days=n + 1)
        dose = await clinic.dose(client["id"], at, route="intranasal")
        await clinic.action("ketamine", dose["id"], "complete")
        await write(clinic, dose, **records(at)[n])
    await clinic.dose(client["id"], T0 + timedelta(hours=3), route="intranasal")
    everything = (await clinic.ok("GET", "/api/v1/ketamine-sessions?limit=200"))["items"]
    computed = {d["id"] for d in everything if flag in d["safety_flags"]}
    listed = await clinic.ok("GET", f"/api/v1/ketamine-sessions?safety_flag={flag}&limit=200")
    assert {d["id"] for d in listed["items"]} == computed
    assert computed  # each flag is raised by at least one of these doses


async def test_a_route_must_fit_the_medication(clinic: Clinic) -> None:
    """Told to clinical roles only; a scheduler cannot change a route at all
    (tests/sessions/test_side_channels.py)."""
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], T0 + timedelta(days=1), route="intranasal")
    await write(clinic, dose, medication="esketamine")
    told = await clinic.patch(f"/api/v1/ketamine-sessions/{dose['id']}", json={"route": "iv"})
    assert told.status_code == 422
    assert told.json()["errors"][0]["type"] == "route_mismatch"
    assert "Esketamine is given intranasally" in told.json()["detail"]


async def test_a_dose_with_a_timed_record_moves_only_within_its_day(clinic: Clinic) -> None:
    """Vitals taken before a scheduled dose must still belong to it after a move."""
    client = await clinic.prepared_client()
    start = T0 + 30 * MINUTE
    dose = await clinic.dose(client["id"], start, route="iv")
    pre = vital("pre_dose", T0 - 5 * MINUTE, systolic=126, diastolic=80)
    dose = await write(clinic, dose, vitals=[pre])
    url = f"/api/v1/ketamine-sessions/{dose['id']}"
    far = {
        "starts_at": iso(start + timedelta(days=3)),
        "ends_at": iso(start + timedelta(days=3, hours=2)),
    }
    refused = await clinic.patch(url, json=far)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "starts_at"]
    unchanged = await clinic.ok("GET", url)
    assert unchanged["starts_at"] == dose["starts_at"]
    near = {"starts_at": iso(start + 30 * MINUTE), "ends_at": iso(start + timedelta(hours=2))}
    moved = await clinic.ok("PATCH", url, json=near)
    assert moved["starts_at"] != dose["starts_at"]


@pytest.mark.parametrize(("minutes", "status"), [(119, 422), (120, 200), (180, 200)])
async def test_a_clinic_may_monitor_longer_than_the_rems_minimum_never_shorter(
    clinic: Clinic, minutes: int, status: int
) -> None:
    policy = {"clinical_policy": {"esketamine_min_monitoring_minutes": minutes}}
    response = await clinic.patch("/api/v1/clinic", json=policy)
    assert response.status_code == status, response.text
