"""FHIR search parameters, each honoured: a filtered answer is checked against the unfiltered
one filtered here, by a second implementation of the FHIR rules (search.html)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fhir.support import Journey, fhir, journey, resources
from tests.support.factories import Clinic, bootstrap

Resource = dict[str, Any]


async def ids(clinic: Clinic, query: str, headers: dict[str, str] | None = None) -> list[str]:
    return [r["id"] for r in resources(await fhir(clinic, query, headers=headers))]


def _range(value: str) -> tuple[datetime, datetime]:
    """The instants a search date covers (UTC), by its precision."""
    if len(value) == 4:
        start = datetime(int(value), 1, 1, tzinfo=UTC)
        return start, start.replace(year=start.year + 1)
    if len(value) == 7:
        start = datetime(int(value[:4]), int(value[5:]), 1, tzinfo=UTC)
        end = start.replace(month=start.month % 12 + 1, year=start.year + start.month // 12)
        return start, end
    if len(value) == 10:
        start = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return start, start + timedelta(days=1)
    start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return start, start + timedelta(minutes=1)


def matches(prefix: str, value: str, first: datetime, last: datetime) -> bool:
    start, end = _range(value)
    inside = start <= first and last < end
    return {
        "eq": inside,
        "ne": not inside,
        "lt": first < start,
        "gt": last >= end,
        "le": first < end,
        "ge": last >= start,
    }[prefix]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


DATES = [
    ("eq", "2026-02-27"),
    ("ne", "2026-02-27"),
    ("lt", "2026-02-27"),
    ("gt", "2026-02-27"),
    ("le", "2026-02-28"),
    ("ge", "2026-03-02"),
    ("eq", "2026-03"),
    ("ge", "2026"),
    ("lt", "2027"),
    ("ge", "2026-02-27T13:00Z"),
    ("lt", "2026-02-27T13:00Z"),
    ("eq", "2026-02-27T12:00Z"),
]


async def test_patients_by_name_id_and_birthdate(
    clinic: Clinic, app: FastAPI, http: httpx.AsyncClient
) -> None:
    maya = await clinic.client(preferred_name="May")
    ola = await clinic.client(first_name="Ola", last_name="Bello", date_of_birth="1990-06-01")
    other = await bootstrap(app, http, clinic.clock)
    await other.client()  # another clinic's Maya Okafor: never found here

    assert await ids(clinic, "/Patient") == [ola["id"], maya["id"]]  # by family name
    assert await ids(clinic, "/Patient?name=may") == [maya["id"]]
    assert await ids(clinic, "/Patient?name=OKA") == [maya["id"]]
    assert await ids(clinic, "/Patient?name=ola,may") == [ola["id"], maya["id"]]
    assert await ids(clinic, "/Patient?name=o&name=bel") == [ola["id"]]  # repeated: AND
    assert await ids(clinic, "/Patient?name=a%25") == []  # a LIKE wildcard is a letter
    assert await ids(clinic, "/Patient?family=bel") == [ola["id"]]
    assert await ids(clinic, "/Patient?family=maya") == []
    assert await ids(clinic, "/Patient?given=may") == [maya["id"]]
    assert await ids(clinic, "/Patient?given=okafor") == []
    assert await ids(clinic, f"/Patient?_id={ola['id']}") == [ola["id"]]
    assert await ids(clinic, f"/Patient?_id={maya['id']},{ola['id']}") == [ola["id"], maya["id"]]
    assert await ids(clinic, "/Patient?_id=not-a-uuid") == []
    births = {maya["id"]: "1988-04-17", ola["id"]: "1990-06-01"}
    for prefix, value in [
        *DATES,
        ("eq", "1988-04-17"),
        ("lt", "1988-04-17"),
        ("gt", "1988-04-16"),
        ("le", "1988-04-16"),
        ("ge", "1988-04-18"),
        ("lt", "1989"),
        ("ge", "1990-06"),
    ]:
        if "T" in value:
            continue
        wanted = [
            pid
            for pid in (ola["id"], maya["id"])
            if matches(prefix, value, _at(births[pid] + "T00:00Z"), _at(births[pid] + "T00:00Z"))
        ]
        assert await ids(clinic, f"/Patient?birthdate={prefix}{value}") == wanted, prefix + value


async def test_a_scheduler_finds_patients_but_not_by_birthdate(clinic: Clinic) -> None:
    maya = await clinic.client()
    _, scheduler = await clinic.staff("scheduler")

    bundle = await fhir(clinic, "/Patient?family=okafor", headers=scheduler)
    outcome = await fhir(clinic, "/Patient?birthdate=1988-04-17", 403, headers=scheduler)

    [found] = resources(bundle)
    assert found["id"] == maya["id"]
    assert "birthDate" not in found
    assert outcome["issue"][0]["code"] == "forbidden"


@pytest.fixture
async def made(clinic: Clinic, app: FastAPI) -> Journey:
    return await journey(clinic, app)


async def test_appointments_by_status_id_patient_and_date(clinic: Clinic, made: Journey) -> None:
    cid = made.client["id"]
    everything = resources(await fhir(clinic, f"/Appointment?patient={cid}"))

    assert len(everything) == 6
    assert await ids(clinic, "/Appointment?status=booked") == [made.booked_id]
    assert await ids(clinic, f"/Appointment?patient=Patient/{cid}&status=cancelled,noshow") == [
        made.no_show_id,
        made.cancelled_id,
    ]
    system = "http://hl7.org/fhir/appointmentstatus"
    assert await ids(clinic, f"/Appointment?status={system}|booked") == [made.booked_id]
    assert await ids(clinic, "/Appointment?status=http://example.org|booked") == []
    fulfilled = await ids(clinic, "/Appointment?status=fulfilled")
    assert fulfilled == [made.prep_id, made.dose_id, made.integration_id]
    assert await ids(clinic, f"/Appointment?_id={made.dose_id}") == [made.dose_id]
    for prefix, value in DATES:
        wanted = [
            a["id"] for a in everything if matches(prefix, value, _at(a["start"]), _at(a["start"]))
        ]
        assert await ids(clinic, f"/Appointment?patient={cid}&date={prefix}{value}") == wanted, (
            prefix + value
        )


async def test_encounters_by_status_and_period(clinic: Clinic, made: Journey) -> None:
    cid = made.client["id"]
    everything = resources(await fhir(clinic, f"/Encounter?patient={cid}"))

    assert [e["id"] for e in everything] == [made.prep_id, made.dose_id, made.integration_id]
    assert await ids(clinic, "/Encounter?status=finished") == [e["id"] for e in everything]
    assert await ids(clinic, "/Encounter?status=in-progress") == []
    assert await ids(clinic, f"/Encounter?_id={made.booked_id}") == []  # not an Encounter
    for prefix, value in DATES:
        wanted = [
            e["id"]
            for e in everything
            if matches(prefix, value, _at(e["period"]["start"]), _at(e["period"]["end"]))
        ]
        assert await ids(clinic, f"/Encounter?patient={cid}&date={prefix}{value}") == wanted, (
            prefix + value
        )


def _codes(observation: Resource) -> set[str]:
    return {f"{c['system']}|{c['code']}" for c in observation["code"]["coding"]}


async def test_observations_by_code_category_subject_and_date(
    clinic: Clinic, made: Journey
) -> None:
    cid = made.client["id"]
    everything = resources(await fhir(clinic, f"/Observation?patient={cid}"))
    assert len(everything) == 13

    for code in ["8867-4", "85354-9", "59408-5", "2708-6", "44261-6", "70274-6", "101698-9"]:
        wanted = [o["id"] for o in everything if f"http://loinc.org|{code}" in _codes(o)]
        assert wanted
        assert await ids(clinic, f"/Observation?patient={cid}&code={code}") == wanted
        query = f"/Observation?subject=Patient/{cid}&code=http://loinc.org|{code}"
        assert await ids(clinic, query) == wanted
    assert await ids(clinic, f"/Observation?patient={cid}&code=http://snomed.info/sct|8867-4") == []
    either = await ids(clinic, f"/Observation?patient={cid}&code=44261-6,70274-6")
    assert either == [made.phq9_id, made.gad7_id] or either == [made.gad7_id, made.phq9_id]
    assert await ids(clinic, f"/Observation?patient={cid}&category=survey&code=8867-4") == []
    surveys = await ids(clinic, f"/Observation?subject={cid}&category=survey")
    assert set(surveys) == {made.phq9_id, made.gad7_id, made.pcl5_id}
    for prefix, value in DATES:
        wanted = [
            o["id"]
            for o in everything
            if matches(prefix, value, _at(o["effectiveDateTime"]), _at(o["effectiveDateTime"]))
        ]
        assert await ids(clinic, f"/Observation?patient={cid}&date={prefix}{value}") == wanted, (
            prefix + value
        )


async def test_an_observation_search_needs_a_patient(clinic: Clinic, made: Journey) -> None:
    outcome = await fhir(clinic, "/Observation?code=8867-4", 400)

    assert outcome["issue"][0]["code"] == "invalid"
    assert "patient" in outcome["issue"][0]["diagnostics"]


async def _pages(clinic: Clinic, first: str) -> list[Resource]:
    """Every page from `first` by its `next` links (absolute, so made relative here)."""
    bundles, url = [], f"/fhir/R4{first}"
    while url:
        response = await clinic.get(url)
        assert response.status_code == 200, response.text
        bundles.append(response.json())
        links = {link["relation"]: link["url"] for link in bundles[-1].get("link", [])}
        url = links.get("next", "").removeprefix("http://kap.test")
    return bundles


@pytest.mark.parametrize(
    ("resource_type", "count"),
    [("Observation", 4), ("Appointment", 4), ("Encounter", 2), ("Consent", 1), ("Patient", 1)],
)
async def test_count_pages_to_the_end_without_repeats(
    clinic: Clinic, made: Journey, resource_type: str, count: int
) -> None:
    await clinic.client(last_name="Zed")  # a second Patient, to page Patients too
    query = "" if resource_type == "Patient" else f"patient={made.client['id']}&"
    whole = await fhir(clinic, f"/{resource_type}?{query}")

    bundles = await _pages(clinic, f"/{resource_type}?{query}_count={count}")

    paged = [e["resource"]["id"] for b in bundles for e in b.get("entry", [])]
    assert paged == [e["resource"]["id"] for e in whole["entry"]]
    assert all(len(b.get("entry", [])) <= count for b in bundles)
    assert {b["total"] for b in bundles} == {whole["total"]}
    assert len(bundles) == -(-whole["total"] // count)


async def test_count_is_capped_and_summary_count_answers_the_total(
    clinic: Clinic, made: Journey
) -> None:
    cid = made.client["id"]

    capped = await fhir(clinic, f"/Observation?patient={cid}&_count=500")
    summary = await fhir(clinic, f"/Observation?patient={cid}&code=8867-4&_summary=count")
    zero = await fhir(clinic, f"/Appointment?patient={cid}&_count=0")

    assert capped["link"] == [
        {"relation": "self", "url": f"http://kap.test/fhir/R4/Observation?patient={cid}&_count=200"}
    ]
    assert (summary["total"], "entry" in summary) == (3, False)
    assert (zero["total"], "entry" in zero) == (6, False)


async def test_unknown_parameters_are_dropped_or_refused_when_strict(
    clinic: Clinic, made: Journey
) -> None:
    cid = made.client["id"]
    query = f"/Appointment?patient={cid}&colour=blue&status:not=booked&status=booked"

    lenient = await fhir(clinic, query)
    strict = await fhir(clinic, query, 400, headers={"Prefer": "handling=strict"})
    lenient_asked = await fhir(clinic, query, headers={"Prefer": "handling=lenient"})

    assert [r["id"] for r in resources(lenient)] == [made.booked_id]
    assert lenient["link"] == [
        {
            "relation": "self",
            "url": f"http://kap.test/fhir/R4/Appointment?patient={cid}&status=booked",
        }
    ]
    assert lenient_asked["total"] == 1
    assert strict["issue"][0]["code"] == "invalid"
    assert "colour" in strict["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("/Appointment?date=yesterday", 400),
        ("/Appointment?date=sa2026-01-01", 400),
        ("/Appointment?date=2026-02-30", 400),
        ("/Patient?birthdate=1988-04-17T10:00Z", 400),
        ("/Appointment?_count=many", 400),
        ("/Appointment?_summary=true", 400),
        ("/Appointment?status=", 400),
        ("/Appointment?_cursor=forged", 422),
    ],
)
async def test_bad_values_are_operation_outcomes(clinic: Clinic, query: str, status: int) -> None:
    outcome = await fhir(clinic, query, status)

    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "invalid"
