"""GET .../assessments/trajectory `phq9.measures`: CMS159 / NQF 0710 remission and NQF 1885
response at twelve months, every boundary through the API on both databases."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tests.assessments.scoring_support import PHQ9, items
from tests.support.factories import T0, Clinic, iso

SECOND = timedelta(seconds=1)
# The index 500 days before the suite's now, so the whole period lies in the past and any PHQ-9
# can be recorded at T0; each test then sets the clock to the "now" it reads the measures at.
INDEX = T0 - timedelta(days=500)
START, END = INDEX + timedelta(days=305), INDEX + timedelta(days=425)
INSIDE = START + timedelta(days=30)


def z(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def phq9(clinic: Clinic, client_id: str, total: int, at: datetime) -> str:
    """Record a PHQ-9 of `total` at `at` (the clock at T0, so `at` is never in the future)."""
    clinic.clock.set(T0)
    body = {"instrument": "phq9", "item_scores": items(PHQ9, total), "administered_at": iso(at)}
    created = await clinic.ok("POST", f"/api/v1/clients/{client_id}/assessments", 201, json=body)
    return str(created["id"])


async def measures(clinic: Clinic, client_id: str, now: datetime) -> dict[str, Any]:
    """The PHQ-9 measures as the API reports them at `now`."""
    clinic.clock.set(now)
    line = await clinic.ok("GET", f"/api/v1/clients/{client_id}/assessments/trajectory")
    found: dict[str, Any] = line["phq9"]["measures"]
    return found


async def indexed(clinic: Clinic, total: int = 20) -> tuple[str, str]:
    """A client with an index PHQ-9 of `total` at INDEX: the client's id and the index's."""
    client = await clinic.client()
    return client["id"], await phq9(clinic, client["id"], total, INDEX)


def statuses(found: dict[str, Any]) -> tuple[str, str]:
    return found["remission_12m"]["status"], found["response_12m"]["status"]


async def test_an_index_total_of_9_is_no_index_and_both_measures_are_null(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic, total=9)
    await phq9(clinic, client_id, 2, INSIDE)
    found = await measures(clinic, client_id, T0)
    assert found == {"index": None, "remission_12m": None, "response_12m": None}


async def test_an_index_total_of_10_is_the_index(clinic: Clinic) -> None:
    client_id, index_id = await indexed(clinic, total=10)
    found = await measures(clinic, client_id, INSIDE)
    assert found["index"] == {"assessment_id": index_id, "administered_at": z(INDEX), "total": 10}
    assert found["remission_12m"] == {
        "status": "open",
        "final": False,
        "period_start": z(START),
        "period_end": z(END),
        "assessment_id": None,
    }
    assert found["response_12m"] == found["remission_12m"]


async def test_the_index_is_the_first_phq9_above_9_not_a_later_higher_one(clinic: Clinic) -> None:
    client = await clinic.client()
    await phq9(clinic, client["id"], 9, INDEX - timedelta(days=20))
    first = await phq9(clinic, client["id"], 11, INDEX)
    await phq9(clinic, client["id"], 27, INDEX + timedelta(days=20))
    found = await measures(clinic, client["id"], INSIDE)
    assert (found["index"]["assessment_id"], found["index"]["total"]) == (first, 11)
    assert found["remission_12m"]["period_start"] == z(START)


async def test_the_period_is_counted_from_the_index_instant_in_utc(clinic: Clinic) -> None:
    client = await clinic.client()
    plus_five = INDEX.astimezone(timezone(timedelta(hours=5)))  # sent as +05:00
    await phq9(clinic, client["id"], 14, plus_five)
    found = await measures(clinic, client["id"], INSIDE)
    assert found["index"]["administered_at"] == z(INDEX)
    assert (found["remission_12m"]["period_start"], found["remission_12m"]["period_end"]) == (
        z(START),
        z(END),
    )


async def test_not_due_one_second_before_the_period(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    found = await measures(clinic, client_id, START - SECOND)
    assert statuses(found) == ("not_due", "not_due")
    assert found["remission_12m"]["final"] is False


async def test_open_inside_the_period_with_none_in_it_yet(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    found = await measures(clinic, client_id, START)
    assert statuses(found) == ("open", "open")
    assert (found["remission_12m"]["final"], found["remission_12m"]["assessment_id"]) == (
        False,
        None,
    )


async def test_a_phq9_one_second_before_period_start_is_not_in_the_period(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    await phq9(clinic, client_id, 2, START - SECOND)
    found = await measures(clinic, client_id, INSIDE)
    assert statuses(found) == ("open", "open")


async def test_a_phq9_at_period_start_is_in_the_period(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    decided = await phq9(clinic, client_id, 2, START)
    found = await measures(clinic, client_id, INSIDE)
    assert statuses(found) == ("met", "met")
    assert found["remission_12m"]["assessment_id"] == decided
    assert found["response_12m"]["assessment_id"] == decided


async def test_a_phq9_at_period_end_is_in_the_period(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    decided = await phq9(clinic, client_id, 2, END)
    found = await measures(clinic, client_id, T0)
    assert statuses(found) == ("met", "met")
    assert found["remission_12m"]["assessment_id"] == decided


async def test_a_phq9_one_second_after_period_end_is_not_in_the_period(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    await phq9(clinic, client_id, 2, END + SECOND)
    found = await measures(clinic, client_id, T0)
    assert statuses(found) == ("no_assessment", "no_assessment")
    assert found["remission_12m"]["assessment_id"] is None


async def test_the_latest_in_the_period_decides_met_then_not_met(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    await phq9(clinic, client_id, 3, INSIDE)
    last = await phq9(clinic, client_id, 12, INSIDE + timedelta(days=14))
    found = await measures(clinic, client_id, T0)
    assert statuses(found) == ("not_met", "not_met")
    assert found["remission_12m"]["assessment_id"] == last


async def test_the_latest_in_the_period_decides_not_met_then_met(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    await phq9(clinic, client_id, 12, INSIDE)
    last = await phq9(clinic, client_id, 3, INSIDE + timedelta(days=14))
    found = await measures(clinic, client_id, T0)
    assert statuses(found) == ("met", "met")
    assert found["response_12m"]["assessment_id"] == last


async def test_no_assessment_after_an_empty_period(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    await phq9(clinic, client_id, 2, T0)  # after the period: too late to count
    found = await measures(clinic, client_id, T0)
    assert statuses(found) == ("no_assessment", "no_assessment")
    assert (found["remission_12m"]["final"], found["response_12m"]["final"]) == (True, True)


async def test_remission_needs_a_total_below_5_when_response_is_met(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic, total=20)
    await phq9(clinic, client_id, 5, INSIDE)
    assert statuses(await measures(clinic, client_id, T0)) == ("not_met", "met")
    await phq9(clinic, client_id, 4, INSIDE + SECOND)
    assert statuses(await measures(clinic, client_id, T0)) == ("met", "met")


async def test_response_at_exactly_half_the_index_total_is_met(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic, total=14)
    await phq9(clinic, client_id, 7, INSIDE)
    assert statuses(await measures(clinic, client_id, T0)) == ("not_met", "met")


async def test_response_one_point_above_half_the_index_total_is_not_met(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic, total=14)
    await phq9(clinic, client_id, 8, INSIDE)
    assert statuses(await measures(clinic, client_id, T0)) == ("not_met", "not_met")


async def test_response_with_an_odd_index_total_has_no_rounding(clinic: Clinic) -> None:
    """Half of 15 is 7.5: 7 is a response, 8 (just above half) is not."""
    client_id, _ = await indexed(clinic, total=15)
    await phq9(clinic, client_id, 7, INSIDE)
    assert statuses(await measures(clinic, client_id, T0))[1] == "met"
    await phq9(clinic, client_id, 8, INSIDE + SECOND)
    assert statuses(await measures(clinic, client_id, T0))[1] == "not_met"


async def test_final_flips_one_second_after_period_end(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    await phq9(clinic, client_id, 2, INSIDE)
    at_end = await measures(clinic, client_id, END)
    after = await measures(clinic, client_id, END + SECOND)
    assert (at_end["remission_12m"]["final"], at_end["response_12m"]["final"]) == (False, False)
    assert (after["remission_12m"]["final"], after["response_12m"]["final"]) == (True, True)
    assert statuses(at_end) == statuses(after) == ("met", "met")


async def test_open_becomes_no_assessment_one_second_after_period_end(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    assert statuses(await measures(clinic, client_id, END)) == ("open", "open")
    after = await measures(clinic, client_id, END + SECOND)
    assert statuses(after) == ("no_assessment", "no_assessment")


async def test_no_field_named_remission_or_response_outside_the_measures(clinic: Clinic) -> None:
    client_id, _ = await indexed(clinic)
    for instrument, scores in [("gad7", [2] * 7), ("pcl5", [2] * 20)]:
        body = {"instrument": instrument, "item_scores": scores, "administered_at": iso(INDEX)}
        await clinic.ok("POST", f"/api/v1/clients/{client_id}/assessments", 201, json=body)
    clinic.clock.set(T0)
    line = await clinic.ok("GET", f"/api/v1/clients/{client_id}/assessments/trajectory")
    assert set(line["phq9"]["measures"]) == {"index", "remission_12m", "response_12m"}
    assert "measures" not in line["gad7"]
    assert "measures" not in line["pcl5"]

    def names(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {n for item in value.values() for n in names(item)}
        if isinstance(value, list):
            return {n for item in value for n in names(item)}
        return set()

    assert not {"remission", "response"} & names(line)
