"""The clinic resource and its window policy."""

from tests.support.apps import assert_problem
from tests.support.factories import Clinic


async def test_defaults(clinic: Clinic) -> None:
    body = await clinic.ok("GET", "/api/v1/clinic")
    assert body["require_completed_preparation"] is True
    assert body["window_policy"] == {
        "opens_after_hours": 0,
        "closes_after_hours": {
            "iv": 72,
            "im": 72,
            "intranasal": 72,
            "sublingual": 168,
            "oral": 168,
        },
        "closing_soon_hours": 24,
    }


async def test_partial_policy_update(clinic: Clinic) -> None:
    body = await clinic.ok(
        "PATCH",
        "/api/v1/clinic",
        json={
            "timezone": "Europe/Berlin",
            "window_policy": {"opens_after_hours": 2.5, "closes_after_hours": {"oral": 120}},
        },
    )
    assert body["timezone"] == "Europe/Berlin"
    assert body["window_policy"]["opens_after_hours"] == 2.5
    assert body["window_policy"]["closes_after_hours"]["oral"] == 120
    assert body["window_policy"]["closes_after_hours"]["iv"] == 72
    assert body["version"] == 2


async def test_invalid_policy_is_422_and_changes_nothing(clinic: Clinic) -> None:
    for bad in (
        {"window_policy": {"opens_after_hours": 80}},
        {"window_policy": {"closes_after_hours": {"iv": -1}}},
        {"window_policy": {"closes_after_hours": {"iv": 0}}},
        {"window_policy": {"closes_after_hours": {"oral": "NaN"}}},
        {"window_policy": {"closes_after_hours": {"patch": 10}}},
        {"window_policy": {"closing_soon_hours": None}},
        {"timezone": "Mars/Olympus_Mons"},
        {"name": ""},
    ):
        response = await clinic.patch("/api/v1/clinic", json=bad)
        assert_problem(response, 422, "validation_error")
    assert (await clinic.ok("GET", "/api/v1/clinic"))["version"] == 1
