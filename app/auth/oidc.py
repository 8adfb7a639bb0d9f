"""OIDC bearer tokens: verify an identity provider's JWT and map it to a staff member.

The second way to authenticate, beside API keys, for clinics with single sign-on. A token is
accepted when it is signed (RS256 or ES256 only) by a key the provider publishes at its JWKS URL
(app/auth/jwks.py), names our issuer and audience, is inside its `exp`/`nbf` (checked against the
app's clock, with a small leeway) and, by default, says `email_verified: true`.

Which staff member it is, is decided in two steps, so that no clinic's rows can change another
clinic's logins. First the clinic, from something no tenant controls: KAP_OIDC_CLINIC_ID (set by
the operator), else the token's clinic claim (set by the provider), else the deployment's only
clinic (clinics are created by the operator's `kap-journey bootstrap`, never through the API).
Then an ACTIVE staff member of that clinic whose email equals the token's staff claim in the one
normal form of app/staff/emails.py, which refuses lookalikes. Rows of other clinics are never
read. The role always comes from the staff record: a token can say who someone is, never what
they may do.
"""

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from app.auth import repository
from app.auth.jwks import ALGORITHMS, JwksCache
from app.clinics.models import Clinic
from app.config import Settings
from app.errors import Unauthorized
from app.staff.emails import canonical_email
from app.staff.models import Staff

MAX_TOKEN_CHARS = 16 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str
    staff_claim: str = "email"
    clinic_claim: str = "kap_clinic_id"
    clinic_id: uuid.UUID | None = None
    require_email_verified: bool = True
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
            clinic_id=settings.oidc_clinic_id,
            require_email_verified=settings.oidc_require_email_verified,
            leeway=timedelta(seconds=settings.oidc_leeway_seconds),
        )


@dataclass(frozen=True)
class Identity:
    """Who a verified token says the caller is."""

    email: str  # in the normal form of app/staff/emails.py
    clinic_id: uuid.UUID | None  # the clinic the token's clinic claim names, if any


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
        staff_claim = self.config.staff_claim
        verified = claims.get(
            "email_verified", None if self.config.require_email_verified else True
        )
        if verified is not True:
            # Missing counts as unverified unless the operator says the provider never sends it:
            # an address nobody proved is a name anyone could register at the provider.
            raise Unauthorized(
                "The token's email address is not verified: `email_verified` must be true."
            )
        value = claims.get(staff_claim)
        if not isinstance(value, str) or not value.strip():
            raise Unauthorized(f"The token has no `{staff_claim}` claim.")
        try:
            email = canonical_email(value)
        except ValueError as error:
            raise Unauthorized(f"The token's `{staff_claim}` claim is refused: {error}.") from None
        return Identity(email, self._claimed_clinic(claims))

    def _claimed_clinic(self, claims: dict[str, Any]) -> uuid.UUID | None:
        name = self.config.clinic_claim
        value = claims.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
        raise Unauthorized(f"The token's `{name}` claim is not a clinic id.")

    async def staff_for(self, db: AsyncSession, identity: Identity) -> tuple[Staff, Clinic]:
        """The active staff member of the token's clinic with the token's email; else a 401.

        Only the resolved clinic's rows are read, so what other clinics hold (the same email,
        active or not) can neither block this login nor show in its answer.
        """
        clinic_id = await self._clinic_for(db, identity.clinic_id)
        found = await repository.active_staff_by_email(db, clinic_id, identity.email)
        if found is None:
            raise Unauthorized("The token does not name an active staff member of its clinic.")
        return found

    async def _clinic_for(self, db: AsyncSession, claimed: uuid.UUID | None) -> uuid.UUID:
        """The clinic a token signs in to, from the operator's setting, the provider's claim,
        or the deployment's only clinic; never from what a tenant can write."""
        fixed, name = self.config.clinic_id, self.config.clinic_claim
        if fixed is not None:
            if claimed is not None and claimed != fixed:
                raise Unauthorized(
                    f"The token's `{name}` claim names a clinic this identity provider does "
                    "not sign in to."
                )
            return fixed
        if claimed is not None:
            return claimed
        # Counting clinics reads ids only; only the operator's CLI creates clinics.
        clinics = await repository.clinic_ids(db, limit=2)
        if len(clinics) != 1:
            raise Unauthorized(
                f"The token must name its clinic in its `{name}` claim: this service has "
                "more than one clinic."
            )
        return clinics[0]


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
