"""The pure mappings on their edges: partial vitals, sessions that are not Encounters."""

import uuid

from app.fhir.observation import vital_observations
from app.fhir.outcome import outcome_body
from app.sessions.models import ClinicalSession
from tests.fhir.support import validate


def _dose(vitals: list[dict[str, object]]) -> ClinicalSession:
    return ClinicalSession(id=uuid.uuid4(), client_id=uuid.uuid4(), vitals=vitals)


def test_a_lone_systolic_keeps_both_components_with_an_absent_reason() -> None:
    dose = _dose([{"taken_at": "2026-03-02T12:00:00Z", "label": "pre_dose", "systolic": 150}])

    (bp,) = vital_observations(dose, with_encounter=False)

    validate(bp)
    systolic, diastolic = bp["component"]
    assert systolic["valueQuantity"]["value"] == 150
    assert diastolic["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert "encounter" not in bp
    assert bp["id"] == f"{dose.id}-1772452800-bp"  # 2026-03-02T12:00:00Z


def test_ids_follow_the_reading_not_its_position() -> None:
    later = {"taken_at": "2026-03-02T12:30:00Z", "label": "peak", "heart_rate": 90}
    same_second = {"taken_at": "2026-03-02T12:30:00.400Z", "label": "other", "heart_rate": 92}
    earlier = {"taken_at": "2026-03-02T11:50:00Z", "label": "pre_dose", "heart_rate": 70}
    dose = _dose([later, same_second])
    ids = [o["id"] for o in vital_observations(dose, with_encounter=False)]
    assert ids == [f"{dose.id}-1772454600-hr", f"{dose.id}-1772454600.2-hr"]
    dose.vitals = [earlier, later, same_second]
    again = [o["id"] for o in vital_observations(dose, with_encounter=False)]
    assert again[1:] == ids
    for observation in vital_observations(dose, with_encounter=False):
        validate(observation)


def test_entries_without_a_readable_time_or_values_make_nothing() -> None:
    dose = _dose(
        [
            {"taken_at": "yesterday", "label": "peak", "heart_rate": 80},
            {"taken_at": "2026-03-02T12:00:00+02:00", "label": "other"},
            {"taken_at": "2026-03-02T12:30:00", "heart_rate": 71},
        ]
    )

    (rate,) = vital_observations(dose, with_encounter=True)

    validate(rate)
    assert rate["effectiveDateTime"] == "2026-03-02T12:30:00Z"
    assert "extension" not in rate
    assert rate["encounter"] == {"reference": f"Encounter/{dose.id}"}


def test_validation_errors_become_one_issue_each() -> None:
    problem = {
        "code": "validation_error",
        "title": "The request is not valid",
        "detail": "query.x: bad",
        "errors": [{"loc": ["query", "x"], "msg": "bad"}, {"loc": ["query", "y"], "msg": "worse"}],
    }

    outcome = validate(outcome_body(422, problem))

    assert [i["diagnostics"] for i in outcome["issue"]] == ["query.x: bad", "query.y: worse"]
    assert {i["code"] for i in outcome["issue"]} == {"invalid"}
