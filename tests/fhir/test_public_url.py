"""Absolute FHIR links (fullUrl, self, the CapabilityStatement's url) are built on KAP_PUBLIC_URL
when it is set, so a forged Host header never reaches them; without it, on the request's base."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from app.config import Settings
from app.main import create_app
from tests.fhir.support import journey, validate
from tests.support.factories import Clinic, FakeClock, bootstrap

PUBLIC = "https://kap.example.org/ehr"
HOSTILE = "attacker.example"
# Forwarding headers are uvicorn's to trust or not (KAP_TRUSTED_PROXIES); the app reads none.
FORWARDED = {"X-Forwarded-Host": HOSTILE, "X-Forwarded-Proto": "https", "Forwarded": "host=x"}


@pytest.fixture
async def public_app(database_url: str, clock: FakeClock) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr("test-secret-key"),
        rate_limit_per_minute=0,
        public_url=f"{PUBLIC}/",
    )
    application = create_app(settings, clock=clock)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def hostile_http(public_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=public_app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOSTILE}") as client:
        yield client


def _links(bundle: dict[str, Any]) -> tuple[list[str], list[str]]:
    full_urls = [entry["fullUrl"] for entry in bundle.get("entry", [])]
    return full_urls, [link["url"] for link in bundle.get("link", [])]


async def test_with_a_public_url_a_forged_host_reaches_no_link(
    public_app: FastAPI, hostile_http: httpx.AsyncClient, clock: FakeClock
) -> None:
    clinic = await bootstrap(public_app, hostile_http, clock)
    made = await journey(clinic, public_app)
    cid = made.client["id"]
    searches = {
        f"/Patient/{cid}/$everything": f"{PUBLIC}/fhir/R4/Patient/{cid}/$everything",
        f"/Appointment?patient={cid}": f"{PUBLIC}/fhir/R4/Appointment?patient={cid}",
        f"/Encounter?patient={cid}": f"{PUBLIC}/fhir/R4/Encounter?patient={cid}",
        f"/Observation?patient={cid}": f"{PUBLIC}/fhir/R4/Observation?patient={cid}",
    }
    for path, self_url in searches.items():
        response = await clinic.get(f"/fhir/R4{path}", headers=FORWARDED)
        assert response.status_code == 200, response.text
        assert HOSTILE not in response.text
        bundle = validate(response.json())
        full_urls, links = _links(bundle)
        assert full_urls
        assert full_urls == [
            f"{PUBLIC}/fhir/R4/{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in bundle["entry"]
        ]
        assert links == [self_url]
    metadata = await hostile_http.get("/fhir/R4/metadata", headers=FORWARDED)
    assert metadata.json()["implementation"]["url"] == f"{PUBLIC}/fhir/R4"
    assert HOSTILE not in metadata.text


async def test_without_a_public_url_links_follow_the_request_as_before(clinic: Clinic) -> None:
    client = await clinic.client()
    response = await clinic.get(
        f"/fhir/R4/Appointment?patient={client['id']}", headers={"Host": "api.clinic.test"}
    )
    assert _links(response.json())[1] == [
        f"http://api.clinic.test/fhir/R4/Appointment?patient={client['id']}"
    ]
    # The app itself never follows forwarding headers: only uvicorn may, for trusted proxies.
    metadata = await clinic.get("/fhir/R4/metadata", headers=FORWARDED)
    assert metadata.json()["implementation"]["url"] == "http://kap.test/fhir/R4"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://KAP.Example.org", "https://kap.example.org"),
        ("https://kap.example.org/", "https://kap.example.org"),
        ("  http://10.0.0.5:8080/ehr//  ", "http://10.0.0.5:8080/ehr"),
        ("https://[2001:db8::1]/kap", "https://[2001:db8::1]/kap"),
        ("", None),
    ],
)
def test_the_public_url_is_kept_as_a_base(given: str, kept: str | None) -> None:
    assert Settings(public_url=given).public_url == kept


@pytest.mark.parametrize(
    "given",
    [
        "kap.example.org",
        "//kap.example.org",
        "ftp://kap.example.org",
        "https://",
        "https://user:pw@kap.example.org",
        "https://kap.example.org/?next=1",
        "https://kap.example.org/#top",
        "https://kap.example.org:99999",
        "https://kap.example.org/a b",
        "https://kap.exa\tmple.org",
        "https://kap.example.org\\@evil.example",
    ],
)
def test_a_public_url_that_is_not_an_absolute_base_is_refused(given: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url=given)
