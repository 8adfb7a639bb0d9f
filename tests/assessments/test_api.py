"""/api/v1/clients/{id}/assessments: scored by the service, flagged, and clinical-only."""

from datetime import timedelta
from typing import Any

import pytest

from tests.support.factories import T0, Clinic, iso
from tests.webhooks.support import make_endpoint

PHQ9_MODERATE = [2, 2, 1, 2, 1, 1, 2, 1, 0]  # 12
PHQ9_MILD_SELF_HARM = [1, 1, 1, 1, 0, 0, 0, 0, 1]  # 5, item 9 positive
GAD7_SEVERE = [3, 3, 3, 2, 2, 2, 2]  # 17


async def _record(clinic: Clinic, client_id: str, **body: Any) -> dict[str, Any]:
    url = f"/api/v1/clients/{client_id}/assessments"
    return await clinic.ok("POST", url, 201, json={"administered_at": iso(T0), **body})


async def test_the_service_scores_and_bands_each_instrument(clinic: Clinic) -> None:
    client = await clinic.client()
    phq = await _record(clinic, client["id"], instrument="phq9", item_scores=PHQ9_MODERATE)
    assert (phq["total"], phq["severity"], phq["self_harm_item_positive"]) == (
        12,
        "moderate",
        False,
    )
    assert phq["probable_ptsd"] is None
    gad = await _record(clinic, client["id"], instrument="gad7", item_scores=GAD7_SEVERE)
    assert (gad["total"], gad["severity"]) == (17, "severe")
    # One item at 2 in clusters B and C, two in D and E: just enough for the DSM-5 rule.
    b, c, d, e = [2, 0, 0, 0, 0], [2, 0], [2, 2, 0, 0, 0, 0, 0], [2, 2, 0, 0, 0, 0]
    items = [*b, *c, *d, *e]
    ptsd = await _record(clinic, client["id"], instrument="pcl5", item_scores=items)
    assert (ptsd["total"], ptsd["severity"]) == (12, None)
    assert (ptsd["probable_ptsd"], ptsd["provisional_dsm5"]) == (False, True)


async def test_the_pcl5_cutoff_is_clinic_policy(clinic: Clinic) -> None:
    client = await clinic.client()
    items = [2] * 15 + [0] * 5  # 30
    before = await _record(clinic, client["id"], instrument="pcl5", item_scores=items)
    assert before["probable_ptsd"] is False
    clinic_policy = {"clinical_policy": {"pcl5_probable_ptsd_cutoff": 30}}
    updated = await clinic.ok("PATCH", "/api/v1/clinic", json=clinic_policy)
    assert updated["clinical_policy"]["pcl5_probable_ptsd_cutoff"] == 30
    after = await _record(clinic, client["id"], instrument="pcl5", item_scores=items)
    assert after["probable_ptsd"] is True
    refused = await clinic.patch(
        "/api/v1/clinic", json={"clinical_policy": {"pcl5_probable_ptsd_cutoff": 81}}
    )
    assert refused.status_code == 422


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"instrument": "phq9", "item_scores": [1] * 8}, ["body", "item_scores"]),
        ({"instrument": "phq9", "item_scores": [1] * 8 + [4]}, ["body", "item_scores", 8]),
        ({"instrument": "gad7", "item_scores": [0, -1, 0, 0, 0, 0, 0]}, ["body", "item_scores", 1]),
        ({"instrument": "gad7", "item_scores": [True] * 7}, ["body", "item_scores", 0]),
        ({"instrument": "phq9", "item_scores": PHQ9_MODERATE, "total": 12}, ["body", "total"]),
        ({"instrument": "bdi", "item_scores": PHQ9_MODERATE}, ["body", "instrument"]),
    ],
)
async def test_bad_item_scores_are_422_and_store_nothing(
    clinic: Clinic, body: dict[str, Any], loc: list[Any]
) -> None:
    client = await clinic.client()
    url = f"/api/v1/clients/{client['id']}/assessments"
    response = await clinic.post(url, json={"administered_at": iso(T0), **body})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc
    assert (await clinic.ok("GET", url))["items"] == []


async def test_a_future_time_or_another_clients_session_is_refused(clinic: Clinic) -> None:
    client, other = await clinic.client(), await clinic.client(last_name="Other")
    session = await clinic.prep(other["id"], T0 - timedelta(days=1))
    url = f"/api/v1/clients/{client['id']}/assessments"
    body = {"instrument": "phq9", "item_scores": PHQ9_MODERATE}
    future = await clinic.post(url, json={**body, "administered_at": iso(T0 + timedelta(hours=1))})
    assert future.status_code == 422
    linked = await clinic.post(
        url, json={**body, "administered_at": iso(T0), "session_id": session["id"]}
    )
    assert linked.status_code == 422
    assert linked.json()["errors"][0]["type"] == "invalid_reference"


async def test_the_trajectory_shows_snapshot_values_named_for_what_they_are(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    for weeks, items in [(8, [2] * 9), (4, [1] * 9), (0, [1, 1, 1, 0, 0, 0, 0, 0, 0])]:
        at = T0 - timedelta(weeks=weeks)
        await _record(
            clinic, client["id"], instrument="phq9", item_scores=items, administered_at=iso(at)
        )
    line = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/assessments/trajectory")
    phq = line["phq9"]
    assert [p["total"] for p in phq["points"]] == [18, 9, 3]
    assert (phq["baseline"]["total"], phq["latest"]["total"]) == (18, 3)
    assert (phq["change_from_baseline"], phq["percent_change_from_baseline"]) == (-15, -83.3)
    assert (phq["halved_from_baseline"], phq["latest_below_5"]) == (True, True)
    # Eight weeks is not twelve months: the measure has not begun, whatever the snapshot says.
    assert phq["measures"]["remission_12m"]["status"] == "not_due"
    assert (phq["latest_below_cutoff"], phq["reliable_change"]) == (None, None)
    assert line["gad7"] == {
        "baseline": None,
        "latest": None,
        "change_from_baseline": None,
        "percent_change_from_baseline": None,
        "halved_from_baseline": None,
        "latest_below_5": None,
        "latest_below_cutoff": None,
        "reliable_change": None,
        "clinically_meaningful_change": None,
        "points": [],
    }


async def test_the_pcl5_trajectory_follows_the_clinic_cutoff_and_blevins_bovin(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    await clinic.ok(
        "PATCH", "/api/v1/clinic", json={"clinical_policy": {"pcl5_probable_ptsd_cutoff": 31}}
    )
    for weeks, total in [(8, 45), (0, 32)]:  # 32 is below the default 33, not 31
        items = [4] * (total // 4) + [total % 4] + [0] * (19 - total // 4)
        at = iso(T0 - timedelta(weeks=weeks))
        await _record(
            clinic, client["id"], instrument="pcl5", item_scores=items, administered_at=at
        )
    pcl = (await clinic.ok("GET", f"/api/v1/clients/{client['id']}/assessments/trajectory"))["pcl5"]
    assert (pcl["change_from_baseline"], pcl["latest_below_cutoff"]) == (-13, False)
    assert (pcl["reliable_change"], pcl["clinically_meaningful_change"]) == (True, True)
    assert (pcl["halved_from_baseline"], pcl["latest_below_5"]) == (None, None)
    assert "measures" not in pcl


async def test_a_positive_item_9_alerts_and_emits_an_event_without_a_score(
    clinic: Clinic,
) -> None:
    client = await clinic.client()
    endpoint = await make_endpoint(clinic, "http://127.0.0.1:9/hook", "assessment.self_harm_flag")
    flagged = await _record(
        clinic, client["id"], instrument="phq9", item_scores=PHQ9_MILD_SELF_HARM
    )
    assert flagged["self_harm_item_positive"] is True
    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    [alert] = [a for a in journey["alerts"] if a["code"] == "self_harm_item_positive"]
    assert alert["assessment_id"] == flagged["id"]
    _, scheduler = await clinic.staff("scheduler")
    hidden = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey", headers=scheduler)
    assert all(a["code"] != "self_harm_item_positive" for a in hidden["alerts"])
    deliveries = await clinic.ok("GET", f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    [delivery] = deliveries["items"]
    assert delivery["event_type"] == "assessment.self_harm_flag"
    # A later PHQ-9 without it leaves the alert: it follows the open safety review
    # (tests/safety_reviews), which only resolving closes.
    later = iso(T0 + timedelta(minutes=5))
    clinic.clock.advance(timedelta(minutes=10))
    await _record(
        clinic, client["id"], instrument="phq9", item_scores=PHQ9_MODERATE, administered_at=later
    )
    journey = await clinic.ok("GET", f"/api/v1/clients/{client['id']}/journey")
    [still] = [a for a in journey["alerts"] if a["code"] == "self_harm_item_positive"]
    assert still == alert


async def test_schedulers_see_none_of_it(clinic: Clinic) -> None:
    client = await clinic.client()
    _, scheduler = await clinic.staff("scheduler")
    url = f"/api/v1/clients/{client['id']}/assessments"
    body = {"instrument": "phq9", "item_scores": PHQ9_MODERATE, "administered_at": iso(T0)}
    assert (await clinic.post(url, json=body, headers=scheduler)).status_code == 403
    assert (await clinic.get(url, headers=scheduler)).status_code == 403
    assert (await clinic.get(f"{url}/trajectory", headers=scheduler)).status_code == 403


async def test_the_location_of_a_new_assessment_reads_it_back(clinic: Clinic) -> None:
    client, other = await clinic.client(), await clinic.client(last_name="Other")
    url = f"/api/v1/clients/{client['id']}/assessments"
    body = {"instrument": "gad7", "item_scores": GAD7_SEVERE, "administered_at": iso(T0)}
    created = await clinic.post(url, json=body)
    assert created.status_code == 201
    read = await clinic.ok("GET", created.headers["Location"])
    assert read == created.json()
    elsewhere = await clinic.get(f"/api/v1/clients/{other['id']}/assessments/{read['id']}")
    assert elsewhere.status_code == 404
    assert elsewhere.json()["code"] == "not_found"
