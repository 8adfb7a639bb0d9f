"""The REMS fields of a dosing record: the ready-to-leave time among the record's times, the
concomitant-medication answers, and ketamine doses that record them too."""

from datetime import timedelta
from typing import Any

import pytest

from tests.support.apps import assert_problem
from tests.support.factories import T0, Clinic, iso
from tests.support.rems import MINUTE, NO_CONCOMITANT_MEDICATIONS, rems_record

START = T0 - timedelta(hours=3)
DOSED = START + 5 * MINUTE
Record = dict[str, Any]


async def completed_dose(clinic: Clinic, route: str = "intranasal", **record: Any) -> Record:
    client = await clinic.prepared_client()
    booked = await clinic.dose(client["id"], START, route=route)
    dose = await clinic.action("ketamine", booked["id"], "complete")
    if record:
        dose = await clinic.ok("PATCH", url(dose), json=record)
    return dose


def url(dose: Record) -> str:
    return f"/api/v1/ketamine-sessions/{dose['id']}"


def at(value: Any) -> str:
    return iso(value).replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("on_file", "sent", "loc", "kind"),
    [
        ({"dosed_at": iso(DOSED)}, {"ready_to_leave_at": iso(DOSED)}, "ready_to_leave_at", None),
        ({}, {"dosed_at": iso(DOSED), "ready_to_leave_at": iso(DOSED - MINUTE)}, None, None),
        (
            {"ready_to_leave_at": iso(DOSED + 30 * MINUTE)},
            {"dosed_at": iso(DOSED + 31 * MINUTE)},
            "dosed_at",
            None,
        ),
        (
            {"ready_to_leave_at": iso(DOSED + 90 * MINUTE)},
            {"discharged_at": iso(DOSED + 89 * MINUTE)},
            "discharged_at",
            None,
        ),
        (
            {"discharged_at": iso(DOSED + 90 * MINUTE)},
            {"ready_to_leave_at": iso(DOSED + 91 * MINUTE)},
            "ready_to_leave_at",
            None,
        ),
        ({}, {"ready_to_leave_at": iso(START)}, "ready_to_leave_at", "invalid_times"),
        ({}, {"ready_to_leave_at": iso(T0 + MINUTE)}, "ready_to_leave_at", "in_the_future"),
    ],
    ids=[
        "at_the_dose",
        "before_the_dose_sent_together",
        "dose_moved_after_it",
        "discharged_before_it",
        "after_the_discharge",
        "at_the_start",
        "in_the_future",
    ],
)
async def test_ready_to_leave_follows_the_dose_and_precedes_the_discharge(
    clinic: Clinic, on_file: Record, sent: Record, loc: str | None, kind: str | None
) -> None:
    dose = await completed_dose(clinic, **on_file)
    response = await clinic.patch(url(dose), json=sent)
    body = assert_problem(response, 422, "validation_error")
    error = body["errors"][0]
    assert error["loc"] == ["body", loc or "ready_to_leave_at"]
    assert error["type"] == (kind or "invalid_times")
    assert (await clinic.ok("GET", url(dose)))["version"] == dose["version"]


async def test_ready_to_leave_may_equal_the_discharge(clinic: Clinic) -> None:
    leaving = iso(DOSED + 2 * timedelta(hours=1))
    dose = await completed_dose(clinic, dosed_at=iso(DOSED), discharged_at=leaving)
    same = await clinic.ok("PATCH", url(dose), json={"ready_to_leave_at": leaving})
    assert same["ready_to_leave_at"] == same["discharged_at"]


async def test_concomitant_answers_change_one_by_one(clinic: Clinic) -> None:
    dose = await completed_dose(clinic)
    unanswered = dict.fromkeys(NO_CONCOMITANT_MEDICATIONS)
    assert dose["concomitant_medications"] == unanswered
    first = {"concomitant_medications": {"benzodiazepines": True}}
    dose = await clinic.ok("PATCH", url(dose), json=first)
    assert dose["concomitant_medications"] == {**unanswered, "benzodiazepines": True}
    second = {"concomitant_medications": {"maois": False, "psychostimulants": None}}
    dose = await clinic.ok("PATCH", url(dose), json=second)
    assert dose["concomitant_medications"] == {
        **unanswered,
        "benzodiazepines": True,
        "maois": False,
    }
    cleared = await clinic.ok("PATCH", url(dose), json={"concomitant_medications": None})
    assert cleared["concomitant_medications"] == unanswered


@pytest.mark.parametrize(
    "answers",
    [{"maois": "no"}, {"maois": 0}, {"opioids": True}, ["benzodiazepines"]],
    ids=["text", "number", "unknown_question", "not_an_object"],
)
async def test_concomitant_answers_are_true_false_or_null(clinic: Clinic, answers: object) -> None:
    dose = await completed_dose(clinic)
    response = await clinic.patch(url(dose), json={"concomitant_medications": answers})
    assert_problem(response, 422, "validation_error")
    assert (await clinic.ok("GET", url(dose)))["version"] == dose["version"]


async def test_a_ketamine_dose_records_them_without_the_rems_rule(clinic: Clinic) -> None:
    """Asked of esketamine, accepted on any dose: recovery and sedatives matter after
    ketamine too. No REMS applies, so no REMS flag and the form is not checked."""
    record = {**rems_record(DOSED), "medication": "ketamine", "vitals": []}
    dose = await completed_dose(clinic, "iv", **record)
    assert dose["ready_to_leave_at"] == at(DOSED + 110 * MINUTE)
    assert dose["concomitant_medications"] == NO_CONCOMITANT_MEDICATIONS
    assert (dose["rems_record_missing"], dose["safety_flags"]) == (None, [])
    submitted = await clinic.ok("PATCH", url(dose), json={"rems_form_submitted_at": iso(T0)})
    assert submitted["rems_form_submitted_at"] == at(T0)


async def test_a_dose_moves_only_as_far_as_its_ready_to_leave_time_allows(
    clinic: Clinic,
) -> None:
    """A dose under way with only its ready-to-leave time on record: moving the start past
    that time, or away from its day, would strand it."""
    client = await clinic.prepared_client()
    start = T0 - timedelta(hours=1)
    dose = await clinic.dose(client["id"], start, route="intranasal")
    ready = T0 - 10 * MINUTE
    await clinic.ok("PATCH", url(dose), json={"ready_to_leave_at": iso(ready)})
    for new_start in (ready, start - timedelta(days=2)):
        move = {"starts_at": iso(new_start), "ends_at": iso(new_start + timedelta(hours=2))}
        refused = await clinic.patch(url(dose), json=move)
        body = assert_problem(refused, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["body", "starts_at"]
    near = start + 10 * MINUTE
    moved = await clinic.ok(
        "PATCH",
        url(dose),
        json={"starts_at": iso(near), "ends_at": iso(near + timedelta(hours=2))},
    )
    assert (moved["starts_at"], moved["ready_to_leave_at"]) == (at(near), at(ready))
