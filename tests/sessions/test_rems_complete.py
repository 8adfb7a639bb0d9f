"""REMS-complete esketamine records: each condition on its own, its boundaries, the 409 on
marking the form submitted, and the `safety_flag=` filter (the rule's SQL twin) agreeing."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, iso
from tests.support.rems import MINUTE, rems_record, vital

START = T0 - timedelta(hours=3)
DOSED = START + 5 * MINUTE
SECOND = timedelta(seconds=1)
FLAG = "rems_monitoring_incomplete"
Record = dict[str, Any]


async def completed_dose(clinic: Clinic) -> Record:
    """An intranasal dose that started three hours ago, completed, with no record yet."""
    client = await clinic.prepared_client()
    booked = await clinic.dose(client["id"], START, route="intranasal")
    return await clinic.action("ketamine", booked["id"], "complete")


def url(dose: Record) -> str:
    return f"/api/v1/ketamine-sessions/{dose['id']}"


async def recorded(clinic: Clinic, record: Record) -> Record:
    dose = await completed_dose(clinic)
    return await clinic.ok("PATCH", url(dose), json=record)


async def listed_as_incomplete(clinic: Clinic, dose: Record) -> bool:
    query = f"safety_flag={FLAG}&client_id={dose['client_id']}"
    listed = await clinic.ok("GET", f"/api/v1/ketamine-sessions?{query}")
    return dose["id"] in {item["id"] for item in listed["items"]}


async def assert_incomplete(clinic: Clinic, dose: Record, missing: list[str]) -> None:
    """Flagged (read and SQL filter alike); marking the form submitted is 409 and changes
    nothing."""
    assert dose["rems_record_missing"] == missing
    assert FLAG in dose["safety_flags"]
    assert await listed_as_incomplete(clinic, dose)
    refused = await clinic.patch(url(dose), json={"rems_form_submitted_at": iso(T0)})
    problem = assert_problem(refused, 409, "rems_record_incomplete")
    assert problem["missing"] == missing
    assert all(name in problem["detail"] for name in missing)
    after = await clinic.ok("GET", url(dose))
    assert (after["rems_form_submitted_at"], after["version"]) == (None, dose["version"])


async def assert_complete(clinic: Clinic, dose: Record) -> None:
    assert dose["rems_record_missing"] == []
    assert FLAG not in dose["safety_flags"]
    assert not await listed_as_incomplete(clinic, dose)
    submitted = await clinic.ok("PATCH", url(dose), json={"rems_form_submitted_at": iso(T0)})
    assert submitted["rems_form_submitted_at"] == iso(T0).replace("+00:00", "Z")
    assert "rems_form_due" not in submitted["safety_flags"]


def with_vital(index: int, **changes: Any) -> Callable[[Record], Record]:
    def change(record: Record) -> Record:
        vitals = [dict(v) for v in record["vitals"]]
        vitals[index] = {k: v for k, v in {**vitals[index], **changes}.items() if v is not None}
        return {**record, "vitals": vitals}

    return change


def without(name: str) -> Callable[[Record], Record]:
    return lambda record: {k: v for k, v in record.items() if k != name}


def no_spo2_after_dose(record: Record) -> Record:
    return with_vital(2, spo2=None)(with_vital(1, spo2=None)(record))


def unanswered(question: str) -> Callable[[Record], Record]:
    def change(record: Record) -> Record:
        answers = {k: v for k, v in record["concomitant_medications"].items() if k != question}
        return {**record, "concomitant_medications": answers}

    return change


ONE_MISSING: dict[str, tuple[Callable[[Record], Record], list[str]]] = {
    # Without the dose time, nothing can be timed from it: those conditions are named too.
    "dosed_at": (without("dosed_at"), ["dosed_at", "bp_30_to_60_min", "spo2_after_dose"]),
    "pre_dose_bp_label": (with_vital(0, label="other"), ["pre_dose_bp"]),
    "pre_dose_spo2_only": (with_vital(0, systolic=None, diastolic=None), ["pre_dose_bp"]),
    "bp_at_25_min": (with_vital(1, taken_at=iso(DOSED + 25 * MINUTE)), ["bp_30_to_60_min"]),
    "bp_at_40_min_spo2_only": (with_vital(1, systolic=None, diastolic=None), ["bp_30_to_60_min"]),
    "discharge_bp_label": (with_vital(2, label="other"), ["discharge_bp"]),
    "discharge_spo2_only": (with_vital(2, systolic=None, diastolic=None), ["discharge_bp"]),
    "spo2_after_dose": (no_spo2_after_dose, ["spo2_after_dose"]),
    "ready_to_leave_at": (without("ready_to_leave_at"), ["ready_to_leave_at"]),
    "discharged_at": (without("discharged_at"), ["discharged_after_monitoring"]),
    "maois_unanswered": (unanswered("maois"), ["concomitant_medications"]),
    "all_unanswered": (without("concomitant_medications"), ["concomitant_medications"]),
}


async def test_a_complete_record_raises_nothing_and_takes_the_form(clinic: Clinic) -> None:
    await assert_complete(clinic, await recorded(clinic, rems_record(DOSED)))


@pytest.mark.parametrize("case", ONE_MISSING)
async def test_each_condition_on_its_own_flags_the_dose_and_refuses_the_form(
    clinic: Clinic, case: str
) -> None:
    change, missing = ONE_MISSING[case]
    dose = await recorded(clinic, change(rems_record(DOSED)))
    await assert_incomplete(clinic, dose, missing)


@pytest.mark.parametrize(
    ("after_dose", "met"),
    [
        (30 * MINUTE - SECOND, False),
        (30 * MINUTE, True),
        (60 * MINUTE, True),
        (60 * MINUTE + SECOND, False),
    ],
    ids=["30min-1s", "30min", "60min", "60min+1s"],
)
async def test_the_post_dose_pressure_counts_from_30_to_60_minutes(
    clinic: Clinic, after_dose: timedelta, met: bool
) -> None:
    record = with_vital(1, taken_at=iso(DOSED + after_dose))(rems_record(DOSED))
    dose = await recorded(clinic, record)
    if met:
        await assert_complete(clinic, dose)
    else:
        await assert_incomplete(clinic, dose, ["bp_30_to_60_min"])


@pytest.mark.parametrize(
    ("after_dose", "met"),
    [(120 * MINUTE - SECOND, False), (120 * MINUTE, True), (120 * MINUTE + SECOND, True)],
    ids=["120min-1s", "120min", "120min+1s"],
)
async def test_discharge_comes_no_sooner_than_the_minimum_monitoring(
    clinic: Clinic, after_dose: timedelta, met: bool
) -> None:
    dose = await recorded(clinic, {**rems_record(DOSED), "discharged_at": iso(DOSED + after_dose)})
    if met:
        await assert_complete(clinic, dose)
    else:
        await assert_incomplete(clinic, dose, ["discharged_after_monitoring"])


@pytest.mark.parametrize(("after_ready", "status"), [(-SECOND, 422), (timedelta(0), 200)])
async def test_discharge_comes_no_sooner_than_ready_to_leave(
    clinic: Clinic, after_ready: timedelta, status: int
) -> None:
    """When the client is ready later than the minimum, that time bounds the discharge: one
    second sooner cannot be recorded at all (422), at the same instant is complete."""
    ready = DOSED + 130 * MINUTE
    record = {**rems_record(DOSED), "ready_to_leave_at": iso(ready)}
    record["discharged_at"] = iso(ready + after_ready)
    dose = await completed_dose(clinic)
    response = await clinic.patch(url(dose), json=record)
    assert response.status_code == status, response.text
    if status == 200:
        await assert_complete(clinic, response.json())
    else:
        assert response.json()["errors"][0]["loc"] == ["body", "discharged_at"]


@pytest.mark.parametrize(("after_dose", "met"), [(timedelta(0), False), (SECOND, True)])
async def test_oximetry_counts_only_after_the_dose(
    clinic: Clinic, after_dose: timedelta, met: bool
) -> None:
    record = no_spo2_after_dose(rems_record(DOSED))
    record["vitals"].append(vital("other", DOSED + after_dose, spo2=97))
    dose = await recorded(clinic, record)
    if met:
        await assert_complete(clinic, dose)
    else:
        await assert_incomplete(clinic, dose, ["spo2_after_dose"])


async def test_a_longer_clinic_minimum_applies_to_records_on_file(clinic: Clinic) -> None:
    dose = await recorded(clinic, rems_record(DOSED))  # discharged 125 min after the dose
    policy = {"clinical_policy": {"esketamine_min_monitoring_minutes": 150}}
    await clinic.ok("PATCH", "/api/v1/clinic", json=policy)
    await assert_incomplete(
        clinic, await clinic.ok("GET", url(dose)), ["discharged_after_monitoring"]
    )


async def test_the_form_is_judged_on_the_record_the_request_leaves(clinic: Clinic) -> None:
    dose = await completed_dose(clinic)
    completing = {**rems_record(DOSED), "rems_form_submitted_at": iso(T0)}
    done = await clinic.ok("PATCH", url(dose), json=completing)
    assert (done["rems_record_missing"], done["safety_flags"]) == ([], [])
    # Breaking the record while marking the form again is refused as a whole.
    other = await recorded(clinic, rems_record(DOSED))
    breaking = {"vitals": rems_record(DOSED)["vitals"][:2], "rems_form_submitted_at": iso(T0)}
    refused = await clinic.patch(url(other), json=breaking)
    assert assert_problem(refused, 409, "rems_record_incomplete")["missing"] == ["discharge_bp"]
    unchanged = await clinic.ok("GET", url(other))
    assert (len(unchanged["vitals"]), unchanged["version"]) == (3, other["version"])


async def test_a_dose_not_completed_takes_no_form(clinic: Clinic) -> None:
    client = await clinic.prepared_client()
    dose = await clinic.dose(client["id"], START, route="intranasal")  # under way, not completed
    dose = await clinic.ok("PATCH", url(dose), json=rems_record(DOSED))
    assert dose["rems_record_missing"] == ["completed"]
    assert FLAG not in dose["safety_flags"]  # the record is still being written
    refused = await clinic.patch(url(dose), json={"rems_form_submitted_at": iso(T0)})
    assert assert_problem(refused, 409, "rems_record_incomplete")["missing"] == ["completed"]
    cancelled = await clinic.action("ketamine", dose["id"], "cancel", reason="Client unwell")
    assert cancelled["rems_record_missing"] is None
    again = await clinic.patch(url(dose), json={"rems_form_submitted_at": iso(T0)})
    assert_problem(again, 409, "rems_record_incomplete")


async def test_later_edits_recompute_the_timed_conditions(clinic: Clinic) -> None:
    """The SQL filter reads facts stored at write time: a new dose time recomputes them, also
    in a correction of the completed session."""
    dose = await recorded(clinic, rems_record(DOSED))
    later = await clinic.ok("PATCH", url(dose), json={"dosed_at": iso(DOSED + 15 * MINUTE)})
    # the 40-minute reading is now 25 minutes after the dose; discharge 110 minutes after it
    assert later["rems_record_missing"] == ["bp_30_to_60_min", "discharged_after_monitoring"]
    assert await listed_as_incomplete(clinic, later)
    correction = {
        "starts_at": iso(START - 10 * MINUTE),
        "ends_at": iso(START + 110 * MINUTE),
        "correction_reason": "Started earlier than booked",
        "dosed_at": iso(DOSED - 10 * MINUTE),
    }
    corrected = await clinic.ok("PATCH", url(dose), json=correction)
    assert corrected["rems_record_missing"] == []
    assert not await listed_as_incomplete(clinic, corrected)


async def test_the_journey_alert_names_what_is_missing_for_clinical_roles(clinic: Clinic) -> None:
    dose = await recorded(clinic, without("ready_to_leave_at")(rems_record(DOSED)))
    journey = f"/api/v1/clients/{dose['client_id']}/journey"
    alerts = [a for a in (await clinic.ok("GET", journey))["alerts"] if a["code"] == FLAG]
    assert [a["session_id"] for a in alerts] == [dose["id"]]
    assert "missing: ready_to_leave_at" in alerts[0]["detail"]
    _, scheduler = await clinic.staff("scheduler")
    seen = await clinic.ok("GET", journey, headers=scheduler)
    assert FLAG not in {a["code"] for a in seen["alerts"]}
