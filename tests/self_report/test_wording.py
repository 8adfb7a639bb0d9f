"""Each instrument's wording module matches the scoring it feeds, and cites its source; the
link pages stay out of the OpenAPI document while the JSON endpoints are in it."""

from typing import Any

import pytest

from app.assessments.scoring import ITEM_COUNT, ITEM_MAX, Instrument
from app.config import Settings
from app.main import create_app
from app.self_report.instruments import WORDINGS

SOURCES = {
    Instrument.phq9: "Kroenke",
    Instrument.gad7: "Spitzer",
    Instrument.pcl5: "National Center for PTSD",
}


@pytest.mark.parametrize("instrument", list(Instrument))
def test_the_wording_has_one_item_per_scored_item_and_one_choice_per_score(
    instrument: Instrument,
) -> None:
    wording = WORDINGS[instrument]
    assert wording.instrument is instrument
    assert len(wording.items) == ITEM_COUNT[instrument]
    assert [c.value for c in wording.choices] == list(range(ITEM_MAX[instrument] + 1))
    assert len(set(wording.items)) == len(wording.items)
    assert SOURCES[instrument] in wording.source


def test_phq9_item_9_is_the_self_harm_question() -> None:
    assert WORDINGS[Instrument.phq9].items[8].startswith("Thoughts that you would be better off")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    database = tmp_path_factory.mktemp("openapi") / "unused.db"
    document: dict[str, Any] = create_app(
        Settings(database_url=f"sqlite+aiosqlite:///{database}")
    ).openapi()
    return document


def test_the_pages_are_not_in_openapi_and_the_json_endpoints_are(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    assert not [path for path in paths if path.startswith("/r/")]
    base = "/api/v1/clients/{client_id}/assessment-requests"
    assert set(paths[base]) == {"get", "post"}
    assert set(paths[f"{base}/{{request_id}}/revoke"]) == {"post"}
    create = paths[base]["post"]
    assert "shown in this response only" in create["description"]
    schema = spec["components"]["schemas"]["AssessmentRequestRead"]["properties"]
    assert schema["url"]["x-shown-once"] is True
    assert "410" in schema["status"]["description"]
