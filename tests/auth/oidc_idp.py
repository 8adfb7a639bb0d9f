"""The identity provider of the OIDC tests: signing keys, a JWKS served over real HTTP on
127.0.0.1, token claims at the app's clock, and staff members to sign in as."""

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.support.apps import assert_problem
from tests.support.factories import Clinic, FakeClock

ISSUER = "https://idp.clinic.example/"
AUDIENCE = "kap-journey"
CLINIC_CLAIM = "kap_clinic_id"


@dataclass(frozen=True)
class Signer:
    """A signing key of the identity provider (or of someone pretending to be it)."""

    kid: str
    algorithm: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private_key, algorithm=self.algorithm, headers={"kid": self.kid, **header}
        )


@dataclass(frozen=True)
class Keys:
    rsa: Signer
    ec: Signer
    rotated: Signer  # the provider's next key
    impostor: Signer  # not the provider's, but claims the provider's kid


def new_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksServer:
    """A real HTTP server on 127.0.0.1 publishing `document`, counting the fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(outer.document).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, *signers: Signer) -> None:
        self.document = {"keys": [signer.jwk() for signer in signers]}


def oidc_settings(database_url: str, jwks_url: str, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=SecretStr("test-secret-key"),
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=jwks_url,
        rate_limit_per_minute=0,  # the rate limiter has tests of its own (tests/security)
        **extra,
    )


@dataclass(frozen=True)
class Member:
    """A staff member to sign in as: their email and the clinic their tokens name."""

    email: str
    clinic_id: str


def claims(clock: FakeClock, who: Member | str, **overrides: Any) -> dict[str, Any]:
    """Valid claims at the app's clock for a member (their clinic claim included) or a bare
    email (no clinic claim); an override of None drops that claim."""
    at = int(clock.now.timestamp())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": uuid.uuid4().hex,
        "email": who.email if isinstance(who, Member) else who,
        "email_verified": True,
        "iat": at,
        "exp": at + 300,
    }
    if isinstance(who, Member):
        base[CLINIC_CLAIM] = who.clinic_id
    merged = {**base, **overrides}
    return {name: value for name, value in merged.items() if value is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token built by hand, for the forgeries the JWT library refuses to make."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if secret is None:
        return f"{signing_input}."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def tamper(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64(json.dumps(payload).encode())}.{signature}"


async def member(
    clinic: Clinic, role: str = "clinician", email: str | None = None, *, prescriber: bool = False
) -> Member:
    """A new staff member of `clinic` (a prescriber if said), by default with an email unique in
    the whole database."""
    email = email or f"{role}-{uuid.uuid4().hex[:12]}@sso.example"
    body = {"email": email, "name": f"SSO {role}", "role": role, "prescriber": prescriber}
    made = await clinic.ok("POST", "/api/v1/staff", 201, json=body)
    return Member(made["email"], clinic.id)


def assert_unauthorized(response: httpx.Response, what: str = "") -> None:
    assert response.status_code == 401, (what, response.text)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer", what


@asynccontextmanager
async def signing_in(
    database_url: str, clock: FakeClock, idp: JwksServer, **extra: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with OIDC on and more settings (`extra`), and a client of it."""
    application = create_app(oidc_settings(database_url, idp.url, **extra), clock=clock)
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kap.test") as client:
            yield application, client
    finally:
        await application.state.engine.dispose()
