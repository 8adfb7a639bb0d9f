"""POST /api/v1/inbound/{id}: anything unverified or malformed is a 4xx and stores nothing."""

import json
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inbound.payloads import (
    calcom_body,
    calcom_headers,
    calendly_body,
    calendly_headers,
    standard_body,
    standard_headers,
)
from tests.inbound.support import CLIENT_EMAIL, SECRETS, Inbound, inbound_for
from tests.support.examples import examples
from tests.support.factories import T0, Clinic

START = T0 + timedelta(days=1)
CALCOM = calcom_body(
    "BOOKING_CREATED",
    uid="bk_1",
    start=START,
    end=START + timedelta(hours=1),
    attendee_email=CLIENT_EMAIL,
)


def _hex(secret: str, body: bytes) -> str:
    return calcom_headers(secret, body)["X-Cal-Signature-256"]


async def _refused(inbound: Inbound, body: bytes, headers: dict[str, str], status: int) -> str:
    response = await inbound.post(body, headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    code: str = response.json()["code"]
    return code


async def test_calcom_signature_failures_are_401_and_store_nothing(
    app: FastAPI, clinic: Clinic
) -> None:
    calcom = await inbound_for(app, clinic, "calcom")
    good = calcom_headers(SECRETS["calcom"], CALCOM)
    cases = [
        {},
        {"X-Cal-Signature-256": ""},
        {"X-Cal-Signature-256": "no-secret-provided"},
        {"X-Cal-Signature-256": "zz" * 32},
        {"X-Cal-Signature-256": _hex("another-secret-0123456789", CALCOM)},
        {"X-Cal-Signature-256": good["X-Cal-Signature-256"][:-2]},
    ]
    for headers in cases:
        assert await _refused(calcom, CALCOM, headers, 401) == "invalid_signature"
    altered = CALCOM.replace(b"bk_1", b"bk_2")
    assert await _refused(calcom, altered, good, 401) == "invalid_signature"
    assert await calcom.deliveries() == []
    denied = await clinic.ok("GET", "/api/v1/audit-events?outcome=unauthenticated")
    assert {e["action"] for e in denied["items"]} == {"receive_inbound_delivery"}
    assert len(denied["items"]) == len(cases) + 1


async def test_signed_but_malformed_bodies_are_422(app: FastAPI, clinic: Clinic) -> None:
    calcom = await inbound_for(app, clinic, "calcom")
    templated = json.dumps({"booking": "created", "who": CLIENT_EMAIL}).encode()
    for body in (b"not json", b"\xff\xfe", b"[1, 2]", templated, b'{"triggerEvent": 7}'):
        headers = calcom_headers(SECRETS["calcom"], body)
        assert await _refused(calcom, body, headers, 422) == "validation_error"
    assert await calcom.deliveries() == []


async def test_calendly_and_standard_header_failures_are_401(app: FastAPI, clinic: Clinic) -> None:
    calendly = await inbound_for(app, clinic, "calendly")
    body = calendly_body(
        "invitee.created",
        invitee_uri="https://api.calendly.com/scheduled_events/E/invitees/I",
        start=START,
        end=START + timedelta(hours=1),
        email=CLIENT_EMAIL,
    )
    signature = calendly_headers(SECRETS["calendly"], body, T0)["Calendly-Webhook-Signature"]
    t_part, v1_part = signature.split(",")
    for header in ("", t_part, v1_part, f"t=soon,{v1_part}", "garbage", f"{t_part},v1=00"):
        headers = {"Calendly-Webhook-Signature": header}
        assert await _refused(calendly, body, headers, 401) == "invalid_signature"

    standard = await inbound_for(app, clinic, "standard")
    body = standard_body(
        "booking.created",
        booking_id="b",
        start=START,
        end=START + timedelta(hours=1),
        attendee_email=CLIENT_EMAIL,
        kind="integration",
    )
    good = standard_headers(SECRETS["standard"], body, T0)
    broken = [
        {},
        {**good, "webhook-signature": "v1"},
        {**good, "webhook-signature": "v1,a,b"},
        {**good, "webhook-timestamp": "yesterday"},
        standard_headers(SECRETS["standard"], body, T0 - timedelta(minutes=10)),
        {key: value for key, value in good.items() if key != "webhook-id"},
    ]
    for headers in broken:
        assert await _refused(standard, body, headers, 401) == "invalid_signature"
    assert await calendly.deliveries() == []
    assert await standard.deliveries() == []


async def test_an_unknown_integration_is_404(clinic: Clinic) -> None:
    response = await clinic.http.post(f"/api/v1/inbound/{uuid.uuid4()}", content=CALCOM)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    malformed = await clinic.http.post("/api/v1/inbound/not-a-uuid", content=CALCOM)
    assert malformed.status_code == 422


HEADER_NAMES = st.sampled_from(
    [
        "x-cal-signature-256",
        "calendly-webhook-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
    ]
)
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
BODIES = st.one_of(
    st.binary(max_size=2000),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
        max_leaves=30,
    ).map(lambda doc: json.dumps(doc).encode()),
)


@pytest.mark.parametrize("provider", ["calcom", "calendly", "standard"])
@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(body=BODIES, headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4))
async def test_random_bodies_and_headers_never_cause_a_5xx(
    app: FastAPI, clinic: Clinic, provider: str, body: bytes, headers: dict[str, str]
) -> None:
    inbound = await inbound_for(app, clinic, provider)
    response = await inbound.post(body, headers)
    assert response.status_code in (401, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
