"""The identity provider's signing keys: its JWKS document, fetched, parsed and cached.

The keys are fetched on first use, cached, and fetched again (at most once per
`JWKS_REFRESH_INTERVAL`) when a token names a key we do not hold: that is how key rotation shows.
Only RS256 and ES256 signing keys are kept.
"""

import asyncio
import json
import logging
from datetime import datetime, timedelta

import httpx
import jwt
from jwt import PyJWK

from app.errors import AppError

ALGORITHMS = ("RS256", "ES256")
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_REFRESH_INTERVAL = timedelta(minutes=1)
MAX_JWKS_BYTES = 512 * 1024

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
