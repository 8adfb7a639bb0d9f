"""OIDC bearer tokens: verify an identity provider's JWT and map it to a staff member.

The second way to authenticate, beside API keys, for clinics with single sign-on. A token is
accepted when it is signed (RS256 or ES256 only) by a key the provider publishes at its JWKS URL,
names our issuer and audience, and is inside its `exp`/`nbf` (checked against the app's clock,
with a small leeway). Its staff claim (by default `email`) is then matched, case-insensitively,
to `Staff.email`; the clinic claim (by default `kap_clinic_id`) picks the clinic, and is needed
when that email is staff of more than one. The role always comes from the staff record: a token
can say who someone is, never what they may do.

The provider's keys are fetched on first use, cached, and fetched again (at most once per
`JWKS_REFRESH_INTERVAL`) when a token names a key we do not hold: that is how key rotation shows.
"""

import asyncio
import json
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
from jwt import PyJWK
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from app.clinics.models import Clinic
from app.config import Settings
from app.db import in_clinic
from app.errors import AppError, Unauthorized
from app.staff.models import Staff

ALGORITHMS = ("RS256", "ES256")
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_REFRESH_INTERVAL = timedelta(minutes=1)
MAX_JWKS_BYTES = 512 * 1024
MAX_TOKEN_CHARS = 16 * 1024

log = logging.getLogger(__name__)


class IdentityProviderUnavailable(AppError):
    """The provider's signing keys could not be fetched, so no token can be checked."""

    status, code, title = (
        503,
        "identity_provider_unavailable",
        "The identity provider's signing keys are unavailable",
    )


class JwksError(Exception):
    """The JWKS endpoint answered with something that is not a usable key set."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str
    staff_claim: str = "email"
    clinic_claim: str = "kap_clinic_id"
    leeway: timedelta = timedelta(seconds=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> "OidcConfig | None":
        """The configuration; None (OIDC off) unless issuer, audience and JWKS URL are all set."""
        issuer, audience, url = (
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.oidc_jwks_url,
        )
        if not (issuer and audience and url):
            if issuer or audience or url:
                log.warning(
                    "OIDC is off: set all of KAP_OIDC_ISSUER, KAP_OIDC_AUDIENCE and "
                    "KAP_OIDC_JWKS_URL to accept OIDC bearer tokens"
                )
            return None
        return cls(
            issuer=issuer,
            audience=audience,
            jwks_url=url,
            staff_claim=settings.oidc_staff_claim,
            clinic_claim=settings.oidc_clinic_claim,
            leeway=timedelta(seconds=settings.oidc_leeway_seconds),
        )


def parse_jwks(body: bytes) -> list[PyJWK]:
    """The RS256/ES256 signing keys of a JWKS document; other keys (HMAC, encryption, other
    algorithms or curves, malformed ones) are skipped. No usable key at all is an error."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise JwksError("the JWKS is not JSON") from error
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JwksError("the JWKS has no `keys` list")
    keys: list[PyJWK] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        if key.algorithm_name in ALGORITHMS:
            keys.append(key)
    if not keys:
        raise JwksError("the JWKS holds no RS256 or ES256 signing key")
    return keys


class JwksCache:
    """The provider's signing keys, refetched at most once per `refresh_interval`.

    Times are the app's clock (passed in), so tests move them by hand. Failed fetches count
    against the interval too, so an unreachable provider is not hammered; on failure the keys
    already held are kept.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = JWKS_TIMEOUT_SECONDS,
        refresh_interval: timedelta = JWKS_REFRESH_INTERVAL,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.refresh_interval = refresh_interval
        self.fetches = 0
        self._keys: list[PyJWK] = []
        self._attempted_at: datetime | None = None
        self._failed = False
        self._lock = asyncio.Lock()

    async def find(self, kid: str | None, algorithm: str, now: datetime) -> PyJWK | None:
        """The key for a token header's `kid` and `alg`, fetching the key set when we lack it.

        Raises IdentityProviderUnavailable when the key is missing and the last fetch failed.
        """
        key = self._match(kid, algorithm)
        if key is not None:
            return key
        async with self._lock:
            # Another request may have refreshed the keys while this one waited.
            key = self._match(kid, algorithm)
            if key is None and self._may_fetch(now):
                await self._refresh(now)
                key = self._match(kid, algorithm)
        if key is None and self._failed:
            raise IdentityProviderUnavailable(
                "The identity provider's signing keys could not be fetched; try again shortly.",
                headers={"Retry-After": str(int(self.refresh_interval.total_seconds()))},
            )
        return key

    def _match(self, kid: str | None, algorithm: str) -> PyJWK | None:
        candidates = [key for key in self._keys if key.algorithm_name == algorithm]
        if kid is not None:
            return next((key for key in candidates if key.key_id == kid), None)
        # Without a kid a token is only unambiguous when one key could have signed it.
        return candidates[0] if len(candidates) == 1 else None

    def _may_fetch(self, now: datetime) -> bool:
        last = self._attempted_at
        # A clock that moved backwards must not freeze the cache.
        return last is None or now < last or now - last >= self.refresh_interval

    async def _refresh(self, now: datetime) -> None:
        self._attempted_at = now
        self.fetches += 1
        try:
            async with asyncio.timeout(self.timeout):
                self._keys = parse_jwks(await self._download())
        except (httpx.HTTPError, httpx.InvalidURL, JwksError, TimeoutError) as error:
            self._failed = True
            log.warning("could not fetch the OIDC JWKS from %s: %r", self.url, error)
            return
        self._failed = False

    async def _download(self) -> bytes:
        async with (
            httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise JwksError(f"the JWKS endpoint answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksError("the JWKS is too large")
            return bytes(body)


@dataclass(frozen=True)
class Identity:
    """Who a verified token says the caller is."""

    email: str
    clinic_id: uuid.UUID | None


class OidcVerifier:
    """Verifies OIDC bearer tokens and finds the staff member they name."""

    def __init__(self, config: OidcConfig, jwks: JwksCache | None = None) -> None:
        self.config = config
        self.jwks = jwks or JwksCache(config.jwks_url)

    async def authenticate(
        self, db: AsyncSession, token: str, now: datetime
    ) -> tuple[Staff, Clinic]:
        """The active staff member (and clinic) a valid token names; anything else is a 401."""
        claims = await self.verify(token, now)
        return await self.staff_for(db, self.identity(claims))

    async def verify(self, token: str, now: datetime) -> dict[str, Any]:
        """The claims of a token that is well signed, ours, and valid at `now`."""
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("The bearer token is too long.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("The bearer token is neither an API key nor a valid JWT.") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            raise Unauthorized("The token must be signed with RS256 or ES256.")
        key = await self.jwks.find(header.get("kid"), algorithm, now)
        if key is None:
            raise Unauthorized("The token is not signed by a key of the identity provider.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.config.audience,
                issuer=self.config.issuer,
                options={
                    "require": ["exp", "iss", "aud"],
                    "enforce_minimum_key_length": True,
                    # Times are checked below against the app's clock, not the system's.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(_reason(error)) from None
        self._check_times(claims, now)
        return claims

    def _check_times(self, claims: dict[str, Any], now: datetime) -> None:
        at = now.timestamp()
        leeway = self.config.leeway.total_seconds()
        expires = _numeric_date(claims, "exp")
        if expires is None or expires <= at - leeway:
            raise Unauthorized("The token has expired.")
        not_before = _numeric_date(claims, "nbf")
        if not_before is not None and not_before > at + leeway:
            raise Unauthorized("The token is not valid yet.")
        issued = _numeric_date(claims, "iat")
        if issued is not None and issued > at + leeway:
            raise Unauthorized("The token was issued in the future.")

    def identity(self, claims: dict[str, Any]) -> Identity:
        """The email and optional clinic a verified token's claims name."""
        staff_claim, clinic_claim = self.config.staff_claim, self.config.clinic_claim
        value = claims.get(staff_claim)
        if not isinstance(value, str) or not value.strip():
            raise Unauthorized(f"The token has no `{staff_claim}` claim.")
        if staff_claim == "email" and claims.get("email_verified") is False:
            raise Unauthorized("The token's email address is not verified.")
        clinic = claims.get(clinic_claim)
        clinic_id: uuid.UUID | None = None
        if clinic is not None:
            try:
                clinic_id = uuid.UUID(clinic) if isinstance(clinic, str) else None
            except ValueError:
                clinic_id = None
            if clinic_id is None:
                raise Unauthorized(f"The token's `{clinic_claim}` claim is not a clinic id.")
        return Identity(value.strip().lower(), clinic_id)

    async def staff_for(self, db: AsyncSession, identity: Identity) -> tuple[Staff, Clinic]:
        """The one active staff member matching the identity; none, several or inactive is 401."""
        stmt = (
            select(Staff, Clinic)
            .join(Clinic, Clinic.id == Staff.clinic_id)
            .where(Staff.email == identity.email)  # stored lower-case
            .limit(2)
        )
        if identity.clinic_id is not None:
            stmt = stmt.where(in_clinic(Staff, identity.clinic_id))
        rows = (await db.execute(stmt)).all()
        if not rows:
            raise Unauthorized("The token does not name a staff member.")
        if len(rows) > 1:
            raise Unauthorized(
                "The token's email belongs to staff of more than one clinic; the token must "
                f"name the clinic in its `{self.config.clinic_claim}` claim."
            )
        staff, clinic = rows[0]
        if not staff.active:
            raise Unauthorized("The staff member is inactive.")
        return staff, clinic


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unauthorized(f"The token's `{name}` claim is not a NumericDate.")
    return float(value)


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"The token has no `{error.claim}` claim."
    if isinstance(error, jwt.InvalidAudienceError):
        return "The token is not meant for this service (audience)."
    if isinstance(error, jwt.InvalidIssuerError):
        return "The token is not from the configured identity provider (issuer)."
    if isinstance(error, jwt.InvalidSignatureError):
        return "The token's signature does not verify."
    return "The token is not valid."


_UNSET = object()


def oidc_verifier(state: State) -> OidcVerifier | None:
    """The app's verifier, built on first use from its settings; None when OIDC is off."""
    verifier = getattr(state, "oidc_verifier", _UNSET)
    if verifier is _UNSET:
        config = OidcConfig.from_settings(state.settings)
        verifier = OidcVerifier(config) if config is not None else None
        state.oidc_verifier = verifier
    assert verifier is None or isinstance(verifier, OidcVerifier)
    return verifier
