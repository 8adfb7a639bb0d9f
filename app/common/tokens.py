"""Bearer secrets that read `<scheme>_<prefix>_<secret>`: API keys and calendar feed tokens.

The prefix finds the row; the secret is checked against a SHA-256 hash in constant time. A
secret carries 256 bits of randomness, so a fast hash is enough. Each kind has its own scheme,
which keeps them apart: a feed token is refused as a bearer key, an API key as a feed token.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

# `last_used_at` is written at most this often, so a busy caller does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_PREFIX_LENGTH = 32


@dataclass(frozen=True)
class GeneratedToken:
    prefix: str
    secret_hash: str
    plaintext: str


@dataclass(frozen=True)
class TokenFormat:
    """One kind of bearer secret, told apart from the others by its scheme."""

    scheme: str

    def generate(self) -> GeneratedToken:
        """A new token; the plaintext is shown to its owner once and never stored."""
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        return GeneratedToken(prefix, hash_secret(secret), f"{self.scheme}_{prefix}_{secret}")

    def split(self, token: str) -> tuple[str, str] | None:
        """(prefix, secret) of a well-formed token of this scheme, else None."""
        scheme, _, rest = token.partition("_")
        prefix, _, secret = rest.partition("_")
        if scheme != self.scheme or not prefix or not secret or len(prefix) > MAX_PREFIX_LENGTH:
            return None
        return prefix, secret


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def use_is_due(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether `last_used_at` is due a write (at most once per LAST_USED_RESOLUTION)."""
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION
