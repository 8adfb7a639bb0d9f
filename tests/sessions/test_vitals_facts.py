"""The facts stored beside the vitals for the SQL filters, computed from the stored JSON."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from app.sessions.dosing.schemas import vitals_facts

DOSED = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def stored(label: str, at: datetime | str, **readings: int) -> dict[str, Any]:
    taken = at if isinstance(at, str) else at.isoformat()
    return {
        "taken_at": taken,
        "label": label,
        "systolic": None,
        "diastolic": None,
        "heart_rate": None,
        "spo2": None,
        **readings,
    }


def test_a_bare_stored_time_is_read_as_utc() -> None:
    bare = (DOSED + 30 * MINUTE).replace(tzinfo=None).isoformat()
    facts = vitals_facts([stored("other", bare, systolic=140, diastolic=90)], DOSED)
    assert facts["has_bp_30_to_60_min"] is True


def test_offsets_are_compared_as_instants() -> None:
    new_york = timezone(timedelta(hours=-5))
    for minutes, counted in ((60, True), (61, False)):
        local = (DOSED + minutes * MINUTE).astimezone(new_york).isoformat()
        reading = stored("other", local, systolic=140, diastolic=90)
        assert vitals_facts([reading], DOSED)["has_bp_30_to_60_min"] is counted


def test_nothing_is_timed_from_a_dose_not_on_record() -> None:
    readings = [stored("peak", DOSED + 40 * MINUTE, systolic=150, diastolic=95, spo2=97)]
    facts = vitals_facts(readings, None)
    assert (facts["has_bp_30_to_60_min"], facts["has_spo2_after_dose"]) == (False, False)
    assert vitals_facts(readings, DOSED)["has_spo2_after_dose"] is True


def test_the_peaks_and_the_discharge_pressure_need_both_numbers() -> None:
    readings = [
        stored("pre_dose", DOSED - 20 * MINUTE, systolic=150, diastolic=85),
        stored("pre_dose", DOSED - 10 * MINUTE, systolic=130, diastolic=95),
        stored("pre_dose", DOSED - 5 * MINUTE, spo2=99),
        stored("discharge", DOSED + 120 * MINUTE, spo2=98),
    ]
    facts = vitals_facts(readings, DOSED)
    assert (facts["pre_dose_systolic_peak"], facts["pre_dose_diastolic_peak"]) == (150, 95)
    assert facts["has_discharge_bp"] is False
    empty = vitals_facts(None, DOSED)
    assert (empty["pre_dose_systolic_peak"], empty["has_discharge_bp"]) == (None, False)
