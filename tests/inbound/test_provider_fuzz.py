"""Every provider, whatever arrives: nothing but SignatureInvalid or PayloadInvalid.

Hand-picked hostile bodies first (not JSON, not an object, NUL characters, values in errors),
then hypothesis fuzzing of verify() with near-miss headers and of parse() with random bytes and
mangled real bookings.
"""

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.inbound.providers import (
    BookingEvent,
    IgnoredEvent,
    PayloadInvalid,
    Provider,
    SignatureInvalid,
    parse,
    verify,
)
from tests.inbound.payloads import calcom_headers, calendly_headers, standard_headers
from tests.inbound.provider_support import (
    CAL_SECRET,
    CALENDLY_SECRET,
    STANDARD_SECRET,
    calcom_event,
    calendly_event,
    edited,
    payload_errors,
    standard_event,
)
from tests.support.examples import examples

# --- every provider: hand-picked bodies that are no booking at all --------------------------------

BODIES = {
    Provider.calcom: calcom_event(),
    Provider.calendly: calendly_event(),
    Provider.standard: standard_event(),
}


@pytest.mark.parametrize("provider", list(Provider))
@pytest.mark.parametrize(
    ("body", "type_"),
    [
        (b"", "json_invalid"),
        (b"not json", "json_invalid"),
        (b'{"type": ', "json_invalid"),
        (b"\xff\xfe{}", "string_unicode"),
        (b"[]", "dict_type"),
        (b'"booking"', "dict_type"),
        (b"[" * 100_000 + b"]" * 100_000, "json_invalid"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    provider: Provider, body: bytes, type_: str
) -> None:
    assert [error["type"] for error in payload_errors(provider, body)] == [type_]


@pytest.mark.parametrize("provider", list(Provider))
def test_a_nul_character_anywhere_is_refused(provider: Provider) -> None:
    body = BODIES[provider].replace(b'{"', b'{"\\u0000', 1)

    [error] = payload_errors(provider, body)

    assert error["msg"] == "text must not contain NUL (U+0000) characters"


@pytest.mark.parametrize("provider", list(Provider))
def test_a_payload_error_names_the_field_not_the_value(provider: Provider) -> None:
    secret_value = "m.okafor.private@example.org"
    body = edited(
        BODIES[provider],
        lambda d: d.update(createdAt=secret_value, created_at=secret_value, timestamp=secret_value),
    )

    with pytest.raises(PayloadInvalid) as caught:
        parse(provider, body)

    assert secret_value not in str(caught.value)
    assert secret_value not in json.dumps(caught.value.errors)


# --- fuzz: nothing but SignatureInvalid or PayloadInvalid, whatever arrives --------------------

FUZZ = settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SECRETS = {
    Provider.calcom: CAL_SECRET,
    Provider.calendly: CALENDLY_SECRET,
    Provider.standard: STANDARD_SECRET,
}
SIGNATURE_HEADERS = {
    Provider.calcom: ["X-Cal-Signature-256"],
    Provider.calendly: ["Calendly-Webhook-Signature"],
    Provider.standard: ["webhook-id", "Webhook-Timestamp", "webhook-signature"],
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def genuine_headers(provider: Provider, body: bytes, at: datetime) -> dict[str, str]:
    secret = SECRETS[provider]
    if provider is Provider.calcom:
        return calcom_headers(secret, body)
    if provider is Provider.calendly:
        return calendly_headers(secret, body, at)
    try:
        return standard_headers(secret, body, at)
    except UnicodeDecodeError:  # the sender signs text
        return {}


@st.composite
def fuzzed_headers(
    draw: st.DrawFn, provider: Provider, body: bytes, now: datetime
) -> dict[str, str]:
    """Near misses: the provider's own headers, mostly present, each genuine or mangled."""
    at = now + timedelta(seconds=draw(st.integers(-400, 400)))
    near = str(int(at.timestamp()))
    hex64 = st.from_regex(r"[0-9a-fA-F]{62,66}", fullmatch=True)
    mangled = (
        st.text(max_size=80)
        | st.just(near)
        | st.from_regex(r"msg_[A-Za-z0-9._]{0,12}", fullmatch=True)
        | hex64
        | st.builds(
            lambda t, sigs: ",".join([f"t={t}", *(f"v1={s}" for s in sigs)]),
            st.just(near) | st.text(max_size=12),
            st.lists(hex64 | st.text(max_size=10), max_size=3),
        )
        | st.builds(
            " ".join,
            st.lists(st.from_regex(r"v1a?,?[A-Za-z0-9+/=,*]{0,48}", fullmatch=True), max_size=3),
        )
    )
    genuine = {name.lower(): value for name, value in genuine_headers(provider, body, at).items()}
    headers = draw(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=2))
    for name in SIGNATURE_HEADERS[provider]:
        choice = draw(st.sampled_from(["genuine", "genuine", "mangled", "mangled", "absent"]))
        if choice == "genuine" and name.lower() in genuine:
            headers[name] = genuine[name.lower()]
        elif choice == "mangled":
            headers[name] = draw(mangled)
    return headers


@FUZZ
@given(
    provider=st.sampled_from(Provider),
    body=st.binary(max_size=300)
    | st.text(max_size=200).map(str.encode)
    | st.sampled_from(list(BODIES.values())),
    secret=st.sampled_from(list(SECRETS.values())) | st.text(max_size=40),
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    data=st.data(),
)
def test_verify_only_ever_refuses(
    provider: Provider, body: bytes, secret: str, now: datetime, data: st.DataObject
) -> None:
    headers = data.draw(fuzzed_headers(provider, body, now))
    with contextlib.suppress(SignatureInvalid):
        delivery_id = verify(provider, secret, body, headers, now)
        assert delivery_id is None or provider is Provider.standard


@FUZZ
@given(provider=st.sampled_from(Provider), body=st.binary(max_size=300))
def test_parse_only_ever_refuses_random_bytes(provider: Provider, body: bytes) -> None:
    with contextlib.suppress(PayloadInvalid):
        assert isinstance(parse(provider, body), BookingEvent | IgnoredEvent)


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@FUZZ
@given(provider=st.sampled_from(Provider), data=st.data())
def test_parse_only_ever_refuses_a_mangled_booking(provider: Provider, data: st.DataObject) -> None:
    document = json.loads(BODIES[provider])
    path = data.draw(st.sampled_from(_paths(document)[1:]))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    with contextlib.suppress(PayloadInvalid):
        assert isinstance(
            parse(provider, json.dumps(document).encode()), BookingEvent | IgnoredEvent
        )
