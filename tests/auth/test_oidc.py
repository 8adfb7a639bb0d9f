"""OIDC bearer tokens: RS256/ES256 JWTs from an identity provider whose JWKS is served over real
HTTP on 127.0.0.1, checked on the app's clock. Which clinic and staff member a token names, and
emails in Unicode, are in test_oidc_tenants.py."""

import asyncio
import json
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from app.auth.jwks import IdentityProviderUnavailable, JwksCache, JwksError, parse_jwks
from app.auth.oidc import OidcConfig
from app.config import Settings
from app.main import create_app
from tests.auth.oidc_idp import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    Keys,
    Member,
    Signer,
    assert_unauthorized,
    b64,
    claims,
    handmade,
    member,
    oidc_settings,
    tamper,
)
from tests.support.apps import assert_problem
from tests.support.factories import Clinic, FakeClock, bearer

# --- Tokens that work ----------------------------------------------------------------------------


async def test_rs256_and_es256_tokens_act_with_the_staff_members_role(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic, "clinician")
    for signer in (keys.rsa, keys.ec):
        headers = bearer(signer.sign(claims(clock, email)))
        assert (await sso.get("/api/v1/clients", headers=headers)).status_code == 200, signer
        response = await sso.get("/api/v1/staff", headers=headers)
        assert_problem(response, 403, "forbidden")
        here = await sso.get("/api/v1/clinic", headers=headers)
        assert here.json()["id"] == clinic.id


async def test_the_role_comes_from_the_staff_record_never_the_token(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    clinician = await member(clinic, "clinician")
    boasting = claims(clock, clinician, role="admin", roles=["admin"], groups=["admin"])
    response = await sso.get("/api/v1/staff", headers=bearer(keys.rsa.sign(boasting)))
    assert_problem(response, 403, "forbidden")
    admin = await member(clinic, "admin")
    headers = bearer(keys.ec.sign(claims(clock, admin)))
    assert (await sso.get("/api/v1/staff", headers=headers)).status_code == 200
    scheduler = await member(clinic, "scheduler")
    headers = bearer(keys.rsa.sign(claims(clock, scheduler)))
    assert_problem(await sso.get("/api/v1/api-keys", headers=headers), 403, "forbidden")


async def test_the_email_matches_case_insensitively(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic, "clinician")
    shouting = claims(clock, email, email=f"  {email.email.upper()} ")
    assert (await sso.get("/api/v1/clients", headers=bearer(keys.rsa.sign(shouting)))).is_success


async def test_api_keys_keep_working_beside_oidc(clinic: Clinic, sso: httpx.AsyncClient) -> None:
    assert (await sso.get("/api/v1/staff", headers=clinic.headers)).status_code == 200
    forged = "kap_abc_" + "A" * 43
    assert_unauthorized(await sso.get("/api/v1/clients", headers=bearer(forged)))


async def test_the_key_set_is_fetched_once_and_cached(
    clinic: Clinic, sso: httpx.AsyncClient, idp: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic)
    # Concurrent first requests share one fetch.
    first = await asyncio.gather(
        *(
            sso.get("/api/v1/clients", headers=bearer(signer.sign(claims(clock, email))))
            for signer in (keys.rsa, keys.ec) * 3
        )
    )
    assert [response.status_code for response in first] == [200] * 6
    for signer in (keys.rsa, keys.ec, keys.rsa, keys.ec):
        headers = bearer(signer.sign(claims(clock, email)))
        assert (await sso.get("/api/v1/clients", headers=headers)).status_code == 200
    assert idp.fetches == 1


# --- Time ----------------------------------------------------------------------------------------


async def test_exp_and_nbf_are_checked_on_the_app_clock_with_leeway(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic)
    at = int(clock.now.timestamp())

    async def status(**overrides: Any) -> int:
        token = keys.rsa.sign(claims(clock, email, **overrides))
        response = await sso.get("/api/v1/clients", headers=bearer(token))
        if response.status_code == 401:
            assert_unauthorized(response)
        return response.status_code

    # The leeway is 30 s by default.
    assert await status(exp=at - 29) == 200
    assert await status(exp=at - 31) == 401
    assert await status(nbf=at + 29, iat=at) == 200
    assert await status(nbf=at + 31) == 401
    assert await status(iat=at + 31) == 401
    assert await status(exp=None) == 401
    assert await status(exp=str(at + 300)) == 401
    # The app's clock decides, not the machine's: the same token expires when the clock moves.
    token = keys.ec.sign(claims(clock, email, exp=at + 60))
    assert (await sso.get("/api/v1/clients", headers=bearer(token))).status_code == 200
    clock.advance(timedelta(seconds=89))
    assert (await sso.get("/api/v1/clients", headers=bearer(token))).status_code == 200
    clock.advance(timedelta(seconds=2))
    assert_unauthorized(await sso.get("/api/v1/clients", headers=bearer(token)))


# --- Tokens that do not work ---------------------------------------------------------------------


async def test_forged_foreign_and_malformed_tokens_are_401(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic)
    good = claims(clock, email)
    rsa_header = {"alg": "HS256", "typ": "JWT", "kid": keys.rsa.kid}
    tokens = {
        "wrong audience": keys.rsa.sign(claims(clock, email, aud="someone-else")),
        "wrong issuer": keys.rsa.sign(claims(clock, email, iss="https://evil.example/")),
        "no audience": keys.rsa.sign(claims(clock, email, aud=None)),
        "no issuer": keys.ec.sign(claims(clock, email, iss=None)),
        "another key under the provider's kid": keys.impostor.sign(good),
        "a key the provider never published": Signer(
            "mine", "ES256", ec.generate_private_key(ec.SECP256R1())
        ).sign(good),
        "an ES256 header on the RSA key's kid": Signer(
            keys.rsa.kid, "ES256", ec.generate_private_key(ec.SECP256R1())
        ).sign(good),
        "alg none": handmade({"alg": "none", "typ": "JWT"}, good, None),
        "alg None with the provider's kid": handmade(
            {"alg": "None", "kid": keys.rsa.kid}, good, None
        ),
        "HS256 keyed with the public key's PEM": handmade(rsa_header, good, keys.rsa.public_pem()),
        "HS256 keyed with the public JWK": handmade(
            rsa_header, good, json.dumps(keys.rsa.jwk()).encode()
        ),
        "RS384 (not allowed)": jwt.encode(
            good, keys.rsa.private_key, algorithm="RS384", headers={"kid": keys.rsa.kid}
        ),
        "a tampered payload": tamper(keys.rsa.sign(good), {**good, "email": "admin@sso.example"}),
        "not a JWT": "not-a-jwt",
        "three dots of junk": "abc.def.ghi",
        "a header that is not JSON": f"{b64(b'{nope')}.{b64(b'{}')}.",
        "an empty signature": keys.rsa.sign(good).rsplit(".", 1)[0] + ".",
        "too long": "e" * 20_000,
    }
    unsigned, unknown_key, bad_signature = "RS256 or ES256", "not signed by a key", "signature"
    reasons = {
        "wrong audience": "audience",
        "wrong issuer": "issuer",
        "no audience": "no `aud` claim",
        "no issuer": "no `iss` claim",
        "another key under the provider's kid": bad_signature,
        "a key the provider never published": unknown_key,
        "an ES256 header on the RSA key's kid": unknown_key,
        "alg none": unsigned,
        "alg None with the provider's kid": unsigned,
        "HS256 keyed with the public key's PEM": unsigned,
        "HS256 keyed with the public JWK": unsigned,
        "RS384 (not allowed)": unsigned,
        "a tampered payload": bad_signature,
        "not a JWT": "nor a valid JWT",
        "three dots of junk": "nor a valid JWT",
        "a header that is not JSON": "nor a valid JWT",
        "an empty signature": bad_signature,
        "too long": "too long",
    }
    for what, token in tokens.items():
        response = await sso.get("/api/v1/clients", headers=bearer(token))
        assert_unauthorized(response, what)
        assert reasons[what] in response.json()["detail"], (what, response.json()["detail"])


async def test_inactive_unknown_and_unverified_staff_are_401(
    clinic: Clinic, sso: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic)
    staff = await clinic.ok("GET", "/api/v1/staff", params={"limit": 200})
    staff_id = next(item["id"] for item in staff["items"] if item["email"] == email.email)
    token = keys.rsa.sign(claims(clock, email))
    assert (await sso.get("/api/v1/clients", headers=bearer(token))).status_code == 200
    await clinic.ok("PATCH", f"/api/v1/staff/{staff_id}", json={"active": False})
    assert_unauthorized(await sso.get("/api/v1/clients", headers=bearer(token)), "inactive")
    nobody = Member(f"nobody-{uuid.uuid4().hex}@sso.example", clinic.id)
    unknown = keys.rsa.sign(claims(clock, nobody))
    assert_unauthorized(await sso.get("/api/v1/clients", headers=bearer(unknown)), "unknown")
    other = await member(clinic)
    unverified = keys.rsa.sign(claims(clock, other, email_verified=False))
    assert_unauthorized(await sso.get("/api/v1/clients", headers=bearer(unverified)), "unverified")
    for value in (None, "", 42):
        no_email = keys.rsa.sign({**claims(clock, other), "email": value})
        assert_unauthorized(await sso.get("/api/v1/clients", headers=bearer(no_email)), repr(value))


# --- Key rotation and the provider's availability ------------------------------------------------


async def test_a_rotated_key_is_fetched_again_at_most_once_a_minute(
    clinic: Clinic, sso: httpx.AsyncClient, idp: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic)

    async def get(signer: Signer) -> httpx.Response:
        return await sso.get("/api/v1/clients", headers=bearer(signer.sign(claims(clock, email))))

    assert (await get(keys.rsa)).status_code == 200
    assert idp.fetches == 1
    # The provider rotates to a new key and retires the old one.
    idp.publish(keys.rotated, keys.ec)
    clock.advance(timedelta(seconds=59))
    # Within a minute of the last fetch an unknown kid does not trigger another one.
    assert_unauthorized(await get(keys.rotated))
    assert idp.fetches == 1
    assert (await get(keys.rsa)).status_code == 200  # still cached
    clock.advance(timedelta(seconds=1))
    assert (await get(keys.rotated)).status_code == 200
    assert idp.fetches == 2
    assert (await get(keys.rotated)).status_code == 200
    assert (await get(keys.ec)).status_code == 200
    assert idp.fetches == 2
    # The retired key is gone with the refetch, and asking again soon fetches nothing.
    assert_unauthorized(await get(keys.rsa))
    assert idp.fetches == 2


async def test_an_unavailable_provider_is_503_and_cached_keys_keep_working(
    clinic: Clinic, sso: httpx.AsyncClient, idp: JwksServer, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic)
    idp.status = 500
    token = keys.rsa.sign(claims(clock, email))
    # A malformed token is refused before any fetch.
    assert_unauthorized(await sso.get("/api/v1/clients", headers=bearer("abc.def")))
    assert idp.fetches == 0
    response = await sso.get("/api/v1/clients", headers=bearer(token))
    assert_problem(response, 503, "identity_provider_unavailable")
    assert response.headers["retry-after"] == "60"
    # Failed fetches are rate-limited too: no second fetch within the minute.
    assert_problem(
        await sso.get("/api/v1/clients", headers=bearer(token)),
        503,
        "identity_provider_unavailable",
    )
    assert idp.fetches == 1
    idp.status = 200
    clock.advance(timedelta(minutes=1))
    token = keys.rsa.sign(claims(clock, email))
    assert (await sso.get("/api/v1/clients", headers=bearer(token))).status_code == 200
    # The provider fails again; the keys already held still verify tokens.
    idp.status = 500
    clock.advance(timedelta(minutes=2))
    token = keys.rsa.sign(claims(clock, email))
    assert (await sso.get("/api/v1/clients", headers=bearer(token))).status_code == 200
    unknown = keys.rotated.sign(claims(clock, email))
    response = await sso.get("/api/v1/clients", headers=bearer(unknown))
    assert_problem(response, 503, "identity_provider_unavailable")
    assert idp.fetches == 3


async def test_an_unreachable_provider_is_503(
    database_url: str, clock: FakeClock, clinic: Clinic, keys: Keys
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    email = await member(clinic)
    application = create_app(
        oidc_settings(database_url, f"http://127.0.0.1:{port}/jwks"), clock=clock
    )
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as client:
            token = keys.rsa.sign(claims(clock, email))
            response = await client.get("/api/v1/clients", headers=bearer(token))
            assert_problem(response, 503, "identity_provider_unavailable")
    finally:
        await application.state.engine.dispose()


async def test_a_silent_provider_times_out(clock: FakeClock) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connections complete, but nobody ever answers
        port = silent.getsockname()[1]
        cache = JwksCache(f"http://127.0.0.1:{port}/jwks", timeout=0.2)
        started = datetime.now()  # a duration, on the real clock
        with pytest.raises(IdentityProviderUnavailable):
            await cache.find("rsa-1", "RS256", clock.now)
        assert datetime.now() - started < timedelta(seconds=3)


# --- Configuration and key set parsing -----------------------------------------------------------


async def test_without_oidc_settings_a_jwt_is_401(
    clinic: Clinic, http: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    email = await member(clinic)
    token = keys.rsa.sign(claims(clock, email))
    assert_unauthorized(await http.get("/api/v1/clients", headers=bearer(token)))


def test_oidc_is_off_unless_issuer_audience_and_jwks_url_are_all_set() -> None:
    full = {"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_url": "https://x/jwks"}
    config = OidcConfig.from_settings(Settings.model_validate(full))
    assert config is not None
    assert (config.staff_claim, config.clinic_claim) == ("email", "kap_clinic_id")
    assert (config.clinic_id, config.require_email_verified) == (None, True)
    assert config.leeway == timedelta(seconds=30)
    for missing in full:
        partial = {name: value for name, value in full.items() if name != missing}
        assert OidcConfig.from_settings(Settings.model_validate(partial)) is None
    assert OidcConfig.from_settings(Settings.model_validate({})) is None


def test_a_jwks_url_must_be_http() -> None:
    for url in ("file:///etc/passwd", "idp.clinic.example/jwks", "https://"):
        with pytest.raises(ValidationError):
            Settings(oidc_jwks_url=url)
    assert Settings(oidc_jwks_url="").oidc_jwks_url is None


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAP_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("KAP_OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("KAP_OIDC_JWKS_URL", "https://idp.clinic.example/jwks")
    monkeypatch.setenv("KAP_OIDC_STAFF_CLAIM", "preferred_username")
    monkeypatch.setenv("KAP_OIDC_CLINIC_CLAIM", "tenant")
    monkeypatch.setenv("KAP_OIDC_LEEWAY_SECONDS", "5")
    clinic_id = uuid.uuid4()
    monkeypatch.setenv("KAP_OIDC_CLINIC_ID", str(clinic_id))
    monkeypatch.setenv("KAP_OIDC_REQUIRE_EMAIL_VERIFIED", "false")
    config = OidcConfig.from_settings(Settings())
    assert config is not None
    assert (config.staff_claim, config.clinic_claim) == ("preferred_username", "tenant")
    assert (config.clinic_id, config.require_email_verified) == (clinic_id, False)
    assert config.leeway == timedelta(seconds=5)
    monkeypatch.setenv("KAP_OIDC_CLINIC_ID", "")
    assert Settings().oidc_clinic_id is None
    monkeypatch.setenv("KAP_OIDC_CLINIC_ID", "cedar")
    with pytest.raises(ValidationError):
        Settings()


def test_only_rs256_and_es256_signing_keys_are_kept(keys: Keys) -> None:
    document = {
        "keys": [
            keys.rsa.jwk(),
            keys.ec.jwk(),
            {**keys.rotated.jwk(), "use": "enc"},
            {**keys.rotated.jwk(), "kid": "rs384", "alg": "RS384"},
            {"kty": "oct", "kid": "hmac", "k": b64(b"secret" * 6)},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "broken"},
            {"kty": "nope"},
            "not a key",
        ]
    }
    parsed = parse_jwks(json.dumps(document).encode())
    assert [(key.key_id, key.algorithm_name) for key in parsed] == [
        ("rsa-1", "RS256"),
        ("ec-1", "ES256"),
    ]
    for body in (b"not json", b"[]", b'{"keys": {}}', b'{"keys": [{"kty": "oct", "k": "AA"}]}'):
        with pytest.raises(JwksError):
            parse_jwks(body)
