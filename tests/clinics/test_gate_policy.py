"""The dosing gate's clinic settings in `clinical_policy`: defaults, writes, bounds, evidence."""

from typing import Any

import pytest
from fastapi import FastAPI

from tests.support.apps import assert_problem
from tests.support.factories import Clinic

GATE_DEFAULTS = {
    "require_medical_clearance": True,
    "require_consent": True,
    "screening_valid_days": 365,
}


async def test_a_new_clinic_has_the_gate_on_and_a_year_of_validity(clinic: Clinic) -> None:
    policy = (await clinic.ok("GET", "/api/v1/clinic"))["clinical_policy"]
    assert {name: policy[name] for name in GATE_DEFAULTS} == GATE_DEFAULTS


async def test_the_settings_are_written_one_at_a_time(clinic: Clinic) -> None:
    changes: list[dict[str, Any]] = [
        {"require_medical_clearance": False},
        {"require_consent": False},
        {"screening_valid_days": 1},
        {"screening_valid_days": 730},
    ]
    expected = dict(GATE_DEFAULTS)
    for change in changes:
        expected |= change
        body = await clinic.ok("PATCH", "/api/v1/clinic", json={"clinical_policy": change})
        assert {name: body["clinical_policy"][name] for name in expected} == expected
        assert body["clinical_policy"]["pcl5_probable_ptsd_cutoff"] == 33


@pytest.mark.parametrize(
    "change",
    [
        {"screening_valid_days": 0},
        {"screening_valid_days": 731},
        {"screening_valid_days": 30.5},
        {"require_medical_clearance": "false"},
        {"require_consent": 0},
        {"require_gate": True},
    ],
)
async def test_out_of_range_or_mistyped_settings_are_refused(
    clinic: Clinic, change: dict[str, Any]
) -> None:
    response = await clinic.patch("/api/v1/clinic", json={"clinical_policy": change})
    assert_problem(response, 422, "validation_error")
    policy = (await clinic.ok("GET", "/api/v1/clinic"))["clinical_policy"]
    assert {name: policy[name] for name in GATE_DEFAULTS} == GATE_DEFAULTS


async def test_only_an_admin_writes_them(clinic: Clinic) -> None:
    _, clinician = await clinic.staff("clinician", prescriber=True)
    change = {"clinical_policy": {"require_medical_clearance": False}}
    assert_problem(
        await clinic.patch("/api/v1/clinic", json=change, headers=clinician), 403, "forbidden"
    )
    assert (await clinic.ok("GET", "/api/v1/clinic"))["clinical_policy"][
        "require_medical_clearance"
    ] is True


def test_the_descriptions_link_their_evidence(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    for schema in ("ClinicalPolicy", "ClinicalPolicyPatch"):
        fields = schemas[schema]["properties"]
        for name, anchor in (
            ("require_medical_clearance", "dosing-gate"),
            ("require_consent", "dosing-gate"),
            ("screening_valid_days", "screening-validity"),
        ):
            assert f"/docs/clinical-evidence#{anchor}" in fields[name]["description"], name
